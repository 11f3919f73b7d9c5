import pytest

from tenantauth import roles

PAGES = [
    ("/admin/", None),
    ("/admin/tenantauth/application/", "tenantauth.application"),
    ("/admin/tenantauth/application/{apiC}/change/", "tenantauth.application"),
    ("/admin/tenantauth/tenantuser/", "tenantauth.tenantuser"),
    ("/admin/tenantauth/tenantuser/{user}/change/", "tenantauth.tenantuser"),
    ("/admin/tenantauth/tenant/", "tenantauth.tenant"),
    ("/admin/tenantauth/tenant/{tenant}/change/", "tenantauth.tenant"),
    ("/admin/tenantauth/signingkey/", "tenantauth.signingkey"),
    ("/admin/delegation/auditevent/", "delegation.auditevent"),
    ("/admin/tenantauth/membership/", "tenantauth.membership"),
]


@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_member_pages_render(client, tenant_a, tenant_b, who):
    """Every admin list and change page the role may read (tenantauth.roles) renders and shows
    only its tenant; the others answer 403."""
    client.force_login(tenant_a[who])
    ids = {"apiC": tenant_a["apiC"].pk, "user": tenant_a["user"].pk}
    ids["tenant"] = tenant_a["tenant"].pk
    for template, model in PAGES:
        url = template.format(**ids)
        response = client.get(url)
        readable = model is None or roles.allowed(who, model, "view")
        assert response.status_code == (200 if readable else 403), url
        assert tenant_b["apiC"].client_id.encode() not in response.content
