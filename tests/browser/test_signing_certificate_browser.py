"""The signing certificate page in Chromium: a tenant admin goes from the tenant's page to
it, reads which key signs and what a rotation does, downloads the PEM (the tenant's active
key's certificate), rotates the key and finds the new certificate; the auditor is refused."""

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.urls import reverse

from tenantauth import signing
from tenantauth.models import Tenant
from tests.browser.test_dashboard_browser import login

pytestmark = pytest.mark.browser


def public_bytes(key) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_admin_reads_downloads_and_sees_rotation(live_server, transactional_db, tenant_a, new_page):
    page, base = new_page(accept_downloads=True), live_server.url
    tenant = tenant_a["tenant"]
    login(page, base, tenant_a["admin"])
    page.goto(base + reverse("admin:tenantauth_tenant_change", args=[tenant.pk]))
    page.get_by_role("link", name="Signing certificate").click()
    page.wait_for_url(
        base + reverse("admin:tenantauth_tenant_signingcertificate", args=[tenant.pk])
    )
    assert page.get_by_role("heading", name="Which key signs").is_visible()
    assert page.get_by_role("heading", name="What happens at rotation").is_visible()
    first_kid = tenant.active_signing_key.kid
    assert page.inner_text("#certificate-kid") == first_kid

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download certificate (PEM)").click()
    download = download_info.value
    assert download.suggested_filename == f"{tenant.slug}-signing-certificate.pem"
    certificate = x509.load_pem_x509_certificate(Path(download.path()).read_bytes())
    active = signing.rsa_public_key(tenant.active_signing_key)
    assert public_bytes(certificate.public_key()) == public_bytes(active)

    # Rotate on the tenant's page, come back: the page names the new key.
    page.goto(base + reverse("admin:tenantauth_tenant_change", args=[tenant.pk]))
    page.click("#rotate-key")
    page.wait_for_selector(".messagelist")
    page.get_by_role("link", name="Signing certificate").click()
    new_kid = Tenant.objects.get(pk=tenant.pk).active_signing_key.kid
    assert new_kid != first_kid
    assert page.inner_text("#certificate-kid") == new_kid
    assert page.problems == []


def test_auditor_is_refused(live_server, transactional_db, tenant_a, new_page):
    page, base = new_page(), live_server.url
    login(page, base, tenant_a["auditor"])
    url = base + reverse("admin:tenantauth_tenant_signingcertificate", args=[tenant_a["tenant"].pk])
    response = page.goto(url)
    assert response.status == 403
    assert "BEGIN CERTIFICATE" not in page.content()
