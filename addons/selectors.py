"""Reads of add-on configurations. The tenant is always explicit.

The delegation endpoint reads a target's configurations once per request: one indexed query
(the unique ``(tenant, application, addon)`` index) whose rows are kept on the target
``Application`` instance for the rest of that request, so the default-``api_type`` rule, the
policy's readiness check and the minter share one round trip. The parties query of
``delegation.selectors`` already tells whether the target has any enabled add-on
(``has_enabled_addon``), so a target without one costs no query at all.
"""

from functools import cache

from django.db import connection
from django.db.models import QuerySet

from addons.models import AddonConfiguration
from delegation import minters
from tenantauth.models import Application, Tenant
from tenantauth.sql import ModelColumns

_CONFIG = ModelColumns(AddonConfiguration, "c")
_CACHE_ATTRIBUTE = "_addon_configurations"


@cache
def _configurations_sql(vendor: str) -> str:
    quote = connection.ops.quote_name
    # Identifiers come from model metadata only; every value is a query parameter.
    return (
        f"SELECT {_CONFIG.select_list(connection)} FROM {_CONFIG.table(connection)} "  # noqa: S608
        f"WHERE c.{quote('tenant_id')} = %s AND c.{quote('application_id')} = %s"
    )


def target_addon_configurations(
    *, tenant: Tenant, application: Application
) -> dict[str, AddonConfiguration]:
    """``{addon: configuration}`` of ``application`` in ``tenant`` (another tenant's rows are
    never found). Loaded once and kept on the ``application`` instance."""
    cached = application.__dict__.get(_CACHE_ATTRIBUTE)
    if cached is not None and cached[0] == tenant.pk:
        return cached[1]
    with connection.cursor() as cursor:
        cursor.execute(_configurations_sql(connection.vendor), [tenant.pk, application.pk])
        rows = cursor.fetchall()
    found = {}
    for row in rows:
        config = _CONFIG.load(connection, row)
        config.tenant = tenant
        config.application = application
        found[config.addon] = config
    application.__dict__[_CACHE_ATTRIBUTE] = (tenant.pk, found)
    return found


def addon_configuration_get(
    *, tenant: Tenant, application: Application, addon: str
) -> AddonConfiguration | None:
    return target_addon_configurations(tenant=tenant, application=application).get(addon)


def default_api_type(*, tenant: Tenant, target: Application) -> str | None:
    """The api_type an omitted ``api_type`` means: the target's first enabled add-on in the
    order of ``delegation.minters.ADDON_API_TYPES`` (firebase, azure_blob, azure_sb, aws,
    salesforce_api, salesforce_sandbox_api, sap_api, layer, wams), among add-ons with a
    minter; None (= ``app``) when it has none."""
    if getattr(target, "has_enabled_addon", None) is False:
        return None
    configs = target_addon_configurations(tenant=tenant, application=target)
    for api_type in minters.ADDON_API_TYPES:
        config = configs.get(api_type)
        if config is not None and config.enabled and minters.minter_for(api_type) is not None:
            return api_type
    return None


def addon_configuration_list(
    *, tenant: Tenant, application: Application | None = None
) -> QuerySet[AddonConfiguration]:
    """The tenant's add-on configurations (of one application when given)."""
    qs = AddonConfiguration.objects.filter(tenant=tenant).select_related("application")
    if application is not None:
        qs = qs.filter(application=application)
    return qs


def addon_configuration_find(
    *, tenant: Tenant, application: Application, addon: str
) -> AddonConfiguration | None:
    """One configuration by its natural key, through the ORM (pages and services)."""
    return AddonConfiguration.objects.filter(
        tenant=tenant, application=application, addon=addon
    ).first()


# Add-ons whose assertion is signed with the tenant's key: the provider must hold the tenant's
# signing certificate (admin: the tenant's "Signing certificate" page).
TENANT_KEY_ADDONS = ("aws", "salesforce_api", "salesforce_sandbox_api", "sap_api")


def tenant_certificate_users(*, tenant: Tenant) -> QuerySet[AddonConfiguration]:
    """The tenant's enabled add-on configurations that sign with the tenant's key (their
    providers trust its certificate), by application name."""
    return (
        addon_configuration_list(tenant=tenant)
        .filter(addon__in=TENANT_KEY_ADDONS, enabled=True)
        .order_by("application__name", "addon")
    )
