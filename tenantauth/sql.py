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


def hot_cursor(connection):
    """A cursor for the hot statements (the parties and user reads, the audit insert).

    On PostgreSQL it binds parameters on the server (psycopg's ``Cursor``, not Django's
    default client-side ``ClientCursor``), so psycopg prepares each statement once per
    connection after ``prepare_threshold`` executions (``DATABASES OPTIONS``, see settings)
    and PostgreSQL no longer parses and plans it per request (the 3-table parties SELECT:
    321 us of server CPU unprepared, 105 us prepared). Everything else keeps Django's cursor.
    The cursor is wrapped exactly as ``connection.cursor()`` wraps its own (errors become
    Django's, queries are logged and counted in tests). Other databases: ``cursor()``.
    """
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        raw = ServerBindingCursor(connection.connection)
    if connection.queries_logged:
        return connection.make_debug_cursor(raw)
    return connection.make_cursor(raw)


class ModelInsert:
    """One row of ``model`` inserted with a plain INSERT built once from its metadata.

    ``Model.objects.create`` on a 19-column model costs more Python time than the round trip
    (instance, signals, ``pre_save`` per field, SQL compilation: about 170 us per row measured
    on /delegation). Here the statement is built once per database vendor; per row, each
    value goes through the field's own ``get_db_prep_save`` (what the ORM sends), a missing
    value takes the field's default and ``auto_now``/``auto_now_add`` fields the current time.
    No ``pre_save``/``post_save`` signals are sent: use it only for models nothing listens to.
    """

    def __init__(self, model):
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self._sql: dict[str, str] = {}
        self._now_fields = {
            f.attname
            for f in self.fields
            if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        }

    def sql(self, connection) -> str:
        found = self._sql.get(connection.alias)
        if found is None:
            quote = connection.ops.quote_name
            columns = ", ".join(quote(f.column) for f in self.fields)
            values = ", ".join(["%s"] * len(self.fields))
            table = quote(self.model._meta.db_table)
            found = self._sql[connection.alias] = (
                f"INSERT INTO {table} ({columns}) VALUES ({values})"  # noqa: S608 - model metadata only
            )
        return found

    def execute(self, cursor, connection, values: dict) -> None:
        """Insert one row; ``values`` maps attribute names (``tenant_id``) to Python values."""
        from django.utils import timezone

        now = timezone.now() if self._now_fields else None
        params = []
        for field in self.fields:
            name = field.attname
            if name in self._now_fields:
                value = values.get(name, now)
            elif name in values:
                value = values[name]
            else:
                value = field.get_default()
            params.append(field.get_db_prep_save(value, connection))
        cursor.execute(self.sql(connection), params)
