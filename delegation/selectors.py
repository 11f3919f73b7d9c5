"""Reads for the delegation endpoint. The tenant is always explicit.

The two reads of a successful delegation (the parties, then the user) use precompiled SQL
(``tenantauth.sql``): the ORM's per-query build cost was the largest part of the endpoint's
time. Refusal paths use the ordinary selectors.

The parties query also says, per application, whether it has an enabled add-on
(``Application.has_enabled_addon``, an indexed EXISTS): an omitted ``api_type`` means the
target's first enabled add-on, and this flag spares the common app path a query for it.
"""

from functools import cache

from django.apps import apps as django_apps
from django.db import connection

from tenantauth import selectors as tenant_selectors
from tenantauth.models import Application, SigningKey, Tenant, TenantUser
from tenantauth.sql import ModelColumns, hot_cursor

_APP = ModelColumns(Application, "a")
_TENANT = ModelColumns(Tenant, "t")
_KEY = ModelColumns(SigningKey, "k")
_USER = ModelColumns(TenantUser, "u")


@cache
def _parties_sql(vendor: str, count: int) -> str:
    quote = connection.ops.quote_name
    placeholders = ", ".join(["%s"] * count)
    addons_table = quote(django_apps.get_model("addons", "AddonConfiguration")._meta.db_table)
    enabled_addon = (
        f"EXISTS (SELECT 1 FROM {addons_table} c WHERE c.{quote('tenant_id')} = "
        f"a.{quote('tenant_id')} AND c.{quote('application_id')} = a.{quote('id')} "
        f"AND c.{quote('enabled')} = %s)"
    )
    # Identifiers come from model metadata only; every value is a query parameter.
    return (
        f"SELECT {_APP.select_list(connection)}, {_TENANT.select_list(connection)}, "
        f"{_KEY.select_list(connection)}, {enabled_addon} "
        f"FROM {_APP.table(connection)} "
        f"INNER JOIN {_TENANT.table(connection)} ON (a.{quote('tenant_id')} = t.{quote('id')}) "
        f"LEFT OUTER JOIN {_KEY.table(connection)} "
        f"ON (t.{quote('active_signing_key_id')} = k.{quote('id')}) "
        f"WHERE t.{quote('slug')} = %s AND a.{quote('client_id')} IN ({placeholders})"
    )


@cache
def _user_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {_USER.select_list(connection)} FROM {_USER.table(connection)} "
        f"WHERE u.{quote('tenant_id')} = %s AND u.{quote('user_id')} = %s"
    )


def delegation_parties_get(
    *, tenant_slug: str, client_ids: list[str]
) -> tuple[Tenant | None, dict[str, Application]]:
    """The tenant (with its active signing key) and its applications among ``client_ids``.

    One query when at least one application matches: the applications joined with their
    tenant and its active key, each marked ``has_enabled_addon``. Otherwise (unknown client,
    unknown tenant) a second query finds the tenant alone, so the caller can tell "no such
    tenant" from "no such client". Another tenant's client ID is simply absent, exactly like
    an unknown one.
    """
    wanted = [client_id for client_id in dict.fromkeys(client_ids) if client_id]
    rows = []
    if wanted:
        with hot_cursor(connection) as cursor:
            cursor.execute(
                _parties_sql(connection.vendor, len(wanted)), [True, tenant_slug, *wanted]
            )
            rows = cursor.fetchall()
    if not rows:
        return tenant_selectors.tenant_get(slug=tenant_slug), {}
    tenant_end = len(_APP) + len(_TENANT)
    tenant = _TENANT.load(connection, rows[0][len(_APP) : tenant_end])
    key_end = tenant_end + len(_KEY)
    tenant.active_signing_key = _KEY.load(connection, rows[0][tenant_end:key_end])
    apps = {}
    for row in rows:
        app = _APP.load(connection, row[: len(_APP)])
        app.tenant = tenant
        app.has_enabled_addon = bool(row[key_end])
        apps[app.client_id] = app
    return tenant, apps


def delegation_user_get(*, tenant: Tenant, user_id: str) -> TenantUser | None:
    """The tenant's user with this ``user_id``; another tenant's user is not found."""
    with hot_cursor(connection) as cursor:
        cursor.execute(_user_sql(connection.vendor), [tenant.pk, user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    user = _USER.load(connection, row)
    user.tenant = tenant
    return user
