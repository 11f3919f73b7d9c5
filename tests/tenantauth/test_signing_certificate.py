"""The tenant's signing certificate page and PEM download (what an admin uploads to AWS,
Salesforce and SAP): which key signs, where it is used, what a rotation does; admins and
platform staff only (the roles table: auditors have no tenant rights); tenant B's admin and
non-members get nothing of tenant A."""

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from tenantauth import services, signing
from tests.addons.conftest import configure, keys, rsa_pem  # noqa: F401 - fixtures
from tests.conftest import ADMIN_PASSWORD

pytestmark = pytest.mark.django_db


def page_url(tenant) -> str:
    return reverse("admin:tenantauth_tenant_signingcertificate", args=[tenant.pk])


def pem_url(tenant) -> str:
    return reverse("admin:tenantauth_tenant_certificate", args=[tenant.pk])


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def public_bytes(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_admin_page_names_the_key_its_uses_and_rotation(tenant_a, configure):  # noqa: F811
    """The page shows the active key's kid, size and fingerprints, the PEM (the same as the
    download), the enabled add-ons that sign with it, and what a rotation does."""
    configure(tenant_a, "sap_api")
    configure(tenant_a, "aws", enabled=False)  # off: not listed
    tenant = tenant_a["tenant"]
    client = logged_in(tenant_a["admin"])
    page = client.get(page_url(tenant))
    assert page.status_code == 200
    html = page.content.decode()
    key = tenant.active_signing_key
    assert f'<code id="certificate-kid">{key.kid}</code>' in html
    assert "RS256, RSA 2048 bits" in html
    assert "What happens at rotation" in html and "Import signing key" in html
    used_by = html[html.index('id="certificate-used-by"') :]
    assert "apiC: SAP" in used_by[: used_by.index("</ul>")]
    assert "Amazon Web Services" not in used_by[: used_by.index("</ul>")]

    download = client.get(pem_url(tenant))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/x-pem-file"
    assert download["Content-Disposition"] == (
        f'attachment; filename="{tenant.slug}-signing-certificate.pem"'
    )
    certificate = x509.load_pem_x509_certificate(download.content)
    assert public_bytes(certificate.public_key()) == public_bytes(signing.rsa_public_key(key))
    assert download.content.decode() in html
    assert certificate.not_valid_after_utc.date().isoformat() in html


def test_rotation_changes_the_certificate(tenant_a):
    """After Rotate signing key, the page and the download name the new key."""
    tenant = tenant_a["tenant"]
    client = logged_in(tenant_a["admin"])
    before = client.get(pem_url(tenant)).content
    new_key = services.signing_key_rotate(tenant=tenant, actor=tenant_a["admin"])
    after = client.get(pem_url(tenant)).content
    assert after != before
    certificate = x509.load_pem_x509_certificate(after)
    assert public_bytes(certificate.public_key()) == public_bytes(signing.rsa_public_key(new_key))
    assert new_key.kid in client.get(page_url(tenant)).content.decode()


def test_tenant_page_links_to_it(tenant_a):
    html = logged_in(tenant_a["admin"]).get(
        reverse("admin:tenantauth_tenant_change", args=[tenant_a["tenant"].pk])
    )
    assert f'href="{page_url(tenant_a["tenant"])}"' in html.content.decode()


def test_platform_staff_open_it(tenant_a, staff_user):
    client = logged_in(staff_user)
    assert client.get(page_url(tenant_a["tenant"])).status_code == 200
    assert client.get(pem_url(tenant_a["tenant"])).status_code == 200


@pytest.mark.parametrize("url", [page_url, pem_url], ids=["page", "pem"])
def test_auditor_and_other_tenant_admin_are_refused(tenant_a, tenant_b, url):
    """The auditor (no tenant rights in the roles table) and tenant B's admin asking for
    tenant A's pk: 403, nothing of tenant A in the answer."""
    tenant = tenant_a["tenant"]
    kid = tenant.active_signing_key.kid
    for user in (tenant_a["auditor"], tenant_b["admin"]):
        response = logged_in(user).get(url(tenant))
        assert response.status_code == 403, user
        assert kid not in response.content.decode()
        assert b"BEGIN CERTIFICATE" not in response.content


@pytest.mark.parametrize("url", [page_url, pem_url], ids=["page", "pem"])
def test_non_member_and_anonymous_get_the_login_page(tenant_a, url):
    outsider = get_user_model().objects.create_user(
        "outsider", password=ADMIN_PASSWORD, is_staff=True
    )
    for client in (logged_in(outsider), Client()):
        response = client.get(url(tenant_a["tenant"]))
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
