"""AWS (``aws``): our signed SAML Response is traded at STS ``AssumeRoleWithSAML`` on moto in
server mode (loopback); the credentials answer ``sts get-caller-identity`` against moto as
the assumed role; the signature verifies with ``xmlsec1`` and with python3-saml configured as
AWS's service provider, and a tampered document fails both; role/principal overrides only
when allowed and only from the admin's lists."""

import base64
from urllib.parse import parse_qs

import boto3
import pytest
from moto.server import ThreadedMotoServer
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from addons.minters import aws
from tenantauth import certificates, crypto, outbound
from tests.addons.conftest import PRINCIPAL_ARN, ROLE_ARN
from tests.addons.emulators import free_port
from tests.addons.saml_checks import tenant_certificate, xmlsec1_verify
from tests.delegation.helpers import assert_error, delegate

OTHER_ROLE = "arn:aws:iam::123456789012:role/tenantauth-readonly"
OTHER_PRINCIPAL = "arn:aws:iam::123456789012:saml-provider/tenantauth-2"


@pytest.fixture(scope="module")
def moto_sts():
    """moto's server on a free loopback port (module-wide): its base URL."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def sent(monkeypatch):
    """Every request body the outbound seam sends (the seam itself still sends them)."""
    bodies: list[bytes] = []
    real_send = outbound.send

    def spy(method, url, **kwargs):
        bodies.append(kwargs.get("content") or b"")
        return real_send(method, url, **kwargs)

    monkeypatch.setattr(outbound, "send", spy)
    return bodies


def saml_document(body: bytes) -> bytes:
    """The SAML Response of an AssumeRoleWithSAML request body (the AWS query protocol)."""
    form = parse_qs(body.decode())
    assert form["Action"] == ["AssumeRoleWithSAML"]
    return base64.b64decode(form["SAMLAssertion"][0])


def test_moto_returns_credentials_that_answer_get_caller_identity(
    client, tenant_a, configure, audit, moto_sts, sent
):
    """200 with STS's result passed through (Credentials with ISO dates, AssumedRoleUser);
    the credentials answer get-caller-identity against moto as the assumed role; the sd row
    fingerprints the session token."""
    configure(tenant_a, "aws", sts_endpoint_url=moto_sts)
    response = delegate(client, tenant_a, api_type="aws")
    assert response.status_code == 200, response.content
    body = response.json()
    assert "ResponseMetadata" not in body
    credentials = body["Credentials"]
    assert set(credentials) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert isinstance(credentials["Expiration"], str) and credentials["Expiration"][:2] == "20"
    session_name = tenant_a["user"].email
    assert body["AssumedRoleUser"]["Arn"] == (
        f"arn:aws:sts::123456789012:assumed-role/tenantauth-demo/{session_name}"
    )
    (row,) = audit()
    assert (row.type, row.api_type) == ("sd", "aws")
    assert row.token_fingerprint == crypto.fingerprint(credentials["SessionToken"])

    identity = boto3.client(
        "sts",
        region_name="us-east-1",
        endpoint_url=moto_sts,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    ).get_caller_identity()
    assert identity["Arn"] == body["AssumedRoleUser"]["Arn"]
    assert identity["Account"] == "123456789012"

    document = saml_document(sent[0])
    assert f"{ROLE_ARN},{PRINCIPAL_ARN}".encode() in document


def onelogin_settings(tenant) -> OneLogin_Saml2_Settings:
    """python3-saml configured as AWS's service provider, trusting the tenant certificate."""
    pem = certificates.signing_certificate(tenant=tenant, key=tenant.active_signing_key).pem
    return OneLogin_Saml2_Settings(
        {
            "strict": True,
            "sp": {
                "entityId": aws.AWS_SAML_ENDPOINT,
                "assertionConsumerService": {
                    "url": aws.AWS_SAML_ENDPOINT,
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST",
                },
                "NameIDFormat": "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            },
            "idp": {
                "entityId": tenant.issuer,
                "singleSignOnService": {
                    "url": f"{tenant.issuer}samlp",
                    "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                },
                "x509cert": pem,
            },
            "security": {"wantAssertionsSigned": True, "wantMessagesSigned": False},
        },
        sp_validation_only=True,
    )


AWS_REQUEST = {"https": "on", "http_host": "signin.aws.amazon.com", "script_name": "/saml"}


def test_signature_verifies_with_xmlsec1_and_python3_saml_and_tampering_fails(
    client, tenant_a, configure, moto_sts, sent, tmp_path
):
    """The document moto accepted: xmlsec1 verifies it with the tenant certificate;
    python3-saml as AWS's SP validates it (signature, destination, audience, recipient,
    times) and reads NameID and the Role, RoleSessionName and SessionDuration attributes. The
    same document with another role fails both."""
    configure(tenant_a, "aws", sts_endpoint_url=moto_sts, lifetime_in_seconds=7200)
    assert delegate(client, tenant_a, api_type="aws").status_code == 200
    document = saml_document(sent[0])
    certificate = tenant_certificate(tenant_a["tenant"], tmp_path)
    checked = xmlsec1_verify(document, certificate, tmp_path)
    assert checked.returncode == 0, checked.stderr

    settings = onelogin_settings(tenant_a["tenant"])
    parsed = OneLogin_Saml2_Response(settings, base64.b64encode(document).decode())
    assert parsed.is_valid(AWS_REQUEST, raise_exceptions=True)
    assert parsed.get_nameid() == tenant_a["user"].user_id
    assert parsed.get_audiences() == [aws.AWS_SAML_ENDPOINT]
    attributes = parsed.get_attributes()
    assert attributes[aws.ROLE_ATTRIBUTE] == [f"{ROLE_ARN},{PRINCIPAL_ARN}"]
    assert attributes[aws.SESSION_NAME_ATTRIBUTE] == [tenant_a["user"].email]
    assert attributes[aws.SESSION_DURATION_ATTRIBUTE] == ["7200"]

    tampered = document.replace(ROLE_ARN.encode(), OTHER_ROLE.encode())
    assert tampered != document
    assert xmlsec1_verify(tampered, certificate, tmp_path).returncode != 0
    forged = OneLogin_Saml2_Response(settings, base64.b64encode(tampered).decode())
    assert not forged.is_valid(AWS_REQUEST)
    assert "signature" in forged.get_error().lower() or "digest" in forged.get_error().lower()


def test_overrides_only_when_allowed_and_listed(client, tenant_a, configure, audit, moto_sts):
    """Overrides off: a role parameter is refused (400 invalid_request, nothing issued). On:
    a listed role and principal are used; an unlisted one is refused."""
    configure(tenant_a, "aws", sts_endpoint_url=moto_sts)
    refused = delegate(client, tenant_a, api_type="aws", role=OTHER_ROLE)
    assert_error(refused, 400, "invalid_request")

    configure(
        tenant_a,
        "aws",
        sts_endpoint_url=moto_sts,
        allow_overrides=True,
        allowed_roles=[OTHER_ROLE],
        allowed_principals=[OTHER_PRINCIPAL],
    )
    chosen = delegate(client, tenant_a, api_type="aws", role=OTHER_ROLE, principal=OTHER_PRINCIPAL)
    assert chosen.status_code == 200, chosen.content
    assert "/tenantauth-readonly/" in chosen.json()["AssumedRoleUser"]["Arn"]
    unlisted = delegate(
        client, tenant_a, api_type="aws", role="arn:aws:iam::123456789012:role/admin"
    )
    assert_error(unlisted, 400, "invalid_request")
    assert [(r.type, r.error) for r in audit()] == [
        ("fd", "invalid_request"),
        ("sd", ""),
        ("fd", "invalid_request"),
    ]


def test_a_session_name_aws_refuses_is_refused_here(client, tenant_a, configure, moto_sts):
    """RoleSessionName from user_id ("auth0|..." has a '|', outside AWS's characters): 400,
    nothing sent to STS."""
    configure(tenant_a, "aws", sts_endpoint_url=moto_sts, session_name_attribute="user_id")
    assert_error(delegate(client, tenant_a, api_type="aws"), 400, "invalid_request")
