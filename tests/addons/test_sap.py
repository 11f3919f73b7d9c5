"""SAP (``sap_api``): the RFC 7522 SAML 2.0 bearer assertion verifies with ``xmlsec1`` and
pysaml2 against the tenant's certificate (issuer, NameID, audience, recipient checked); a
tampered one fails both; a local token endpoint checking HTTP Basic receives the right form
and its answer is passed through."""

import base64
from datetime import UTC, datetime

import pytest
from saml2.sigver import SignatureError

from tenantauth import crypto
from tests.addons.providers import SapTokenEndpoint
from tests.addons.saml_checks import pysaml2_verify, tenant_certificate, xmlsec1_verify
from tests.delegation.helpers import assert_error, delegate

CLIENT_ID = "sb-tenantauth!t1"


def decoded(assertion: str) -> bytes:
    """RFC 7522 section 2.1: base64url without padding."""
    assert "=" not in assertion and "\n" not in assertion
    return base64.urlsafe_b64decode(assertion + "=" * (-len(assertion) % 4))


def test_sap_exchange_with_basic_credentials(client, tenant_a, configure, keys, audit):
    """The endpoint receives grant_type saml2-bearer, the assertion, client_id and scope,
    with HTTP Basic client_id:service_password; its JSON comes back unchanged; the sd row
    fingerprints the access token."""
    with SapTokenEndpoint(client_id=CLIENT_ID, password=keys["sap_password"]) as server:
        configure(tenant_a, "sap_api", token_endpoint_url=server.token_url, scope="read write")
        response = delegate(client, tenant_a, api_type="sap_api")
        assert response.status_code == 200, response.content
        (request,) = server.requests
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["scope"] == "read write"
    form = request["form"]
    assert sorted(form) == ["assertion", "client_id", "grant_type", "scope"]
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:saml2-bearer"]
    assert form["client_id"] == [CLIENT_ID] and form["scope"] == ["read write"]
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert decoded(form["assertion"][0]).startswith(b"<saml:Assertion")
    (row,) = audit()
    assert (row.type, row.api_type) == ("sd", "sap_api")
    assert row.token_fingerprint == crypto.fingerprint(body["access_token"])
    assert abs(row.expires_at.timestamp() - row.created_at.timestamp() - 43199) < 5


def test_wrong_service_password_is_the_providers_refusal(client, tenant_a, configure, audit):
    """SAP refuses the Basic credentials: 400 invalid_grant naming SAP's error, an fd row."""
    with SapTokenEndpoint(client_id=CLIENT_ID, password="another-password") as server:
        configure(tenant_a, "sap_api", token_endpoint_url=server.token_url)
        response = delegate(client, tenant_a, api_type="sap_api")
    body = assert_error(response, 400, "invalid_grant")
    assert body["error_description"] == (
        "The provider's token service refused the assertion (invalid_client: Bad credentials)."
    )
    (row,) = audit()
    assert (row.type, row.reason) == ("fd", "provider refused 401")


@pytest.fixture
def sap_assertion(client, tenant_a, configure, keys):
    """The assertion our SAP add-on posted (XML bytes) and the token endpoint's URL."""
    with SapTokenEndpoint(client_id=CLIENT_ID, password=keys["sap_password"]) as server:
        configure(
            tenant_a,
            "sap_api",
            token_endpoint_url=server.token_url,
            audience="https://sap.example.com/sp",
        )
        assert delegate(client, tenant_a, api_type="sap_api").status_code == 200
        (request,) = server.requests
    return decoded(request["form"]["assertion"][0]), server.token_url


def test_xmlsec1_and_pysaml2_verify_the_assertion(tenant_a, sap_assertion, tmp_path):
    """Both verify the enveloped signature with the tenant certificate; issuer = tenant
    issuer, NameID = the user's e-mail (emailAddress format), audience as configured,
    recipient = the token endpoint, a bearer confirmation still valid."""
    xml, token_url = sap_assertion
    certificate = tenant_certificate(tenant_a["tenant"], tmp_path)
    checked = xmlsec1_verify(xml, certificate, tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "OK" in checked.stdout + checked.stderr

    assertion = pysaml2_verify(xml, certificate)
    assert assertion.issuer.text == tenant_a["tenant"].issuer
    name_id = assertion.subject.name_id
    assert name_id.text == tenant_a["user"].email
    assert name_id.format == "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    (restriction,) = assertion.conditions.audience_restriction
    assert [a.text for a in restriction.audience] == ["https://sap.example.com/sp"]
    (confirmation,) = assertion.subject.subject_confirmation
    assert confirmation.method == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    data = confirmation.subject_confirmation_data
    assert data.recipient == token_url
    until = datetime.strptime(data.not_on_or_after, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert 0 < (until - datetime.now(UTC)).total_seconds() <= 300
    assert b"http://www.w3.org/2001/10/xml-exc-c14n#" in xml


def test_a_tampered_assertion_fails_both(tenant_a, sap_assertion, tmp_path):
    """The same assertion naming another user fails xmlsec1 and pysaml2."""
    xml, _ = sap_assertion
    tampered = xml.replace(tenant_a["user"].email.encode(), b"admin@tenant-a.example")
    assert tampered != xml
    certificate = tenant_certificate(tenant_a["tenant"], tmp_path)
    assert xmlsec1_verify(tampered, certificate, tmp_path).returncode != 0
    with pytest.raises(SignatureError):
        pysaml2_verify(tampered, certificate)
