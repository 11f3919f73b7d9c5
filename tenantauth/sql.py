"""Precompiled reads for the hottest request path.

Building SQL through the ORM costs more Python time per request than the database round trip
itself (measured on ``/delegation``: two ORM reads cost as much as the whole minimal
delegation). For the few reads on that path the SELECT list is built once per database vendor
from the models' own metadata, and rows become model instances through Django's public
``Model.from_db`` after the same converters the ORM applies (JSON decoding, SQLite booleans
and datetimes, ...). Only parameter placeholders vary per request: values are always passed as
query parameters, never formatted into the SQL.
"""

from functools import cache

from django.db import connections


class ModelColumns:
    """All concrete columns of ``model`` under a table alias, and how to load them back."""

    def __init__(self, model, alias: str):
        self.model = model
        self.alias = alias
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.pk_index = self.fields.index(model._meta.pk)

    def __len__(self) -> int:
        return len(self.fields)

    def select_list(self, connection) -> str:
        quote = connection.ops.quote_name
        return ", ".join(f"{self.alias}.{quote(field.column)}" for field in self.fields)

    def table(self, connection) -> str:
        return f"{connection.ops.quote_name(self.model._meta.db_table)} {self.alias}"

    @cache  # noqa: B019 - one entry per connection alias for the life of the process
    def _converters(self, alias: str):
        connection = connections[alias]
        converters = []
        for field in self.fields:
            column = field.get_col(self.alias)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            converters.append((column, found))
        return converters

    def load(self, connection, values):
        """A model instance from this model's slice of a result row (None for a NULL join)."""
        if values[self.pk_index] is None:  # a LEFT JOIN found nothing
            return None
        converted = []
        for value, (column, converters) in zip(
            values, self._converters(connection.alias), strict=True
        ):
            for converter in converters:
                value = converter(value, column, connection)
            converted.append(value)
        return self.model.from_db(connection.alias, self.attnames, converted)
