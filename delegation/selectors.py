"""Reads for the delegation endpoint. The tenant is always explicit."""

from tenantauth.models import Application, Tenant


def applications_by_client_id(*, tenant: Tenant, client_ids: list[str]) -> dict[str, Application]:
    """The tenant's applications among ``client_ids``, in one query, keyed by client ID.

    Another tenant's client ID is simply absent, exactly like an unknown one.
    """
    wanted = [client_id for client_id in dict.fromkeys(client_ids) if client_id]
    if not wanted:
        return {}
    return {
        app.client_id: app
        for app in Application.objects.filter(tenant=tenant, client_id__in=wanted)
    }
