import pytest


@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_member_pages_render(client, tenant_a, tenant_b, who):
    """Every admin list and change page renders for a member and shows only its tenant."""
    client.force_login(tenant_a[who])
    for url in [
        "/admin/",
        "/admin/tenantauth/application/",
        f"/admin/tenantauth/application/{tenant_a['apiC'].pk}/change/",
        "/admin/tenantauth/tenantuser/",
        f"/admin/tenantauth/tenantuser/{tenant_a['user'].pk}/change/",
        "/admin/tenantauth/tenant/",
        f"/admin/tenantauth/tenant/{tenant_a['tenant'].pk}/change/",
        "/admin/tenantauth/signingkey/",
        "/admin/delegation/auditevent/",
        "/admin/tenantauth/membership/",
    ]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert tenant_b["apiC"].client_id.encode() not in response.content
