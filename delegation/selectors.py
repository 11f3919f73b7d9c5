"""Reads for the delegation endpoint. The tenant is always explicit."""

from tenantauth import selectors as tenant_selectors
from tenantauth.models import Application, Tenant


def delegation_parties_get(
    *, tenant_slug: str, client_ids: list[str]
) -> tuple[Tenant | None, dict[str, Application]]:
    """The tenant (with its active signing key) and its applications among ``client_ids``.

    One query when at least one application matches: the applications joined with their
    tenant. Otherwise (unknown client, unknown tenant) a second query finds the tenant alone,
    so the caller can tell "no such tenant" from "no such client". Another tenant's client ID
    is simply absent, exactly like an unknown one.
    """
    wanted = [client_id for client_id in dict.fromkeys(client_ids) if client_id]
    rows = (
        list(
            Application.objects.select_related("tenant__active_signing_key").filter(
                tenant__slug=tenant_slug, client_id__in=wanted
            )
        )
        if wanted
        else []
    )
    if not rows:
        return tenant_selectors.tenant_get(slug=tenant_slug), {}
    tenant = rows[0].tenant
    for app in rows:
        app.tenant = tenant  # one shared instance, as if loaded once
    return tenant, {app.client_id: app for app in rows}
