"""Salesforce (``salesforce_api``, ``salesforce_sandbox_api``): our RFC 7523 assertion is
accepted by a local token endpoint built with Authlib (``JWTBearerGrant``) that holds the
tenant's public key, and refused when the key, the audience, the issuer or the expiry is
wrong; the provider's JSON is passed through and audited."""

import time
import types

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from addons.minters import salesforce
from tenantauth import crypto, signing
from tests.addons.conftest import new_rsa_pem
from tests.addons.providers import SalesforceTokenEndpoint
from tests.delegation.helpers import assert_error, delegate

CONSUMER_KEY = "3MVG9-tenantauth-test-consumer-key"


def tenant_public_pem(tenant) -> str:
    key = signing.rsa_public_key(tenant.active_signing_key)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def other_public_pem() -> str:
    private = serialization.load_pem_private_key(new_rsa_pem().encode(), password=None)
    return (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def endpoint(setup, **changes) -> SalesforceTokenEndpoint:
    values = {
        "consumer_key": CONSUMER_KEY,
        "public_key_pem": tenant_public_pem(setup["tenant"]),
        "audience": "https://login.salesforce.com",
        "usernames": [setup["user"].email],
        **changes,
    }
    return SalesforceTokenEndpoint(**values)


@pytest.mark.parametrize(
    ("api_type", "audience"),
    [
        ("salesforce_api", "https://login.salesforce.com"),
        ("salesforce_sandbox_api", "https://test.salesforce.com"),
    ],
)
def test_authlib_endpoint_accepts_our_assertion(
    client, tenant_a, configure, audit, api_type, audience
):
    """Authlib's RFC 7523 grant accepts the assertion (signed with the tenant key, iss =
    consumer key, sub = the user's username, aud = login or test host, integer exp <= 180 s
    ahead); the provider's JSON comes back unchanged and the sd row fingerprints its
    access_token."""
    with endpoint(tenant_a, audience=audience) as server:
        configure(tenant_a, api_type, token_url=server.token_url)
        response = delegate(client, tenant_a, api_type=api_type)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body == server.issued[0]
        (request,) = server.requests
    form = request["form"]
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert set(form) == {"grant_type", "assertion"}
    header = jwt.get_unverified_header(form["assertion"])
    assert header == {
        "alg": "RS256",
        "typ": "JWT",
        "kid": tenant_a["tenant"].active_signing_key.kid,
    }
    claims = jwt.decode(
        form["assertion"],
        tenant_public_pem(tenant_a["tenant"]),
        algorithms=["RS256"],
        audience=audience,
        issuer=CONSUMER_KEY,
    )
    assert claims["sub"] == tenant_a["user"].email
    assert isinstance(claims["exp"], int) and 0 < claims["exp"] - time.time() <= 180
    (row,) = audit()
    assert (row.type, row.api_type) == ("sd", api_type)
    assert row.token_fingerprint == crypto.fingerprint(body["access_token"])
    assert row.jti == claims["jti"]


def test_community_url_is_the_audience(client, tenant_a, configure):
    """With a community URL set, aud is that URL (and the login host is refused)."""
    community = "https://acme.my.site.com/customers"
    with endpoint(tenant_a, audience=community) as server:
        configure(tenant_a, "salesforce_api", token_url=server.token_url, community_url=community)
        assert delegate(client, tenant_a, api_type="salesforce_api").status_code == 200
    with endpoint(tenant_a) as server:
        configure(tenant_a, "salesforce_api", token_url=server.token_url, community_url=community)
        assert_error(delegate(client, tenant_a, api_type="salesforce_api"), 400, "invalid_grant")


@pytest.mark.parametrize("wrong", ["key", "audience", "issuer", "expired"])
def test_authlib_endpoint_refuses_a_wrong_assertion(
    client, tenant_a, configure, audit, monkeypatch, wrong
):
    """The endpoint refuses an assertion checked against another key, another audience,
    another consumer key, or one already expired: the caller gets 400 invalid_grant naming
    the provider's error code, and an fd row records the provider's refusal."""
    changes = {
        "key": {"public_key_pem": other_public_pem()},
        "audience": {"audience": "https://test.salesforce.com"},
        "issuer": {"consumer_key": "3MVG9-another-connected-app"},
        "expired": {},
    }[wrong]
    if wrong == "expired":
        # Our minter's clock only: the assertion is made 10 minutes ago (exp 7 minutes ago).
        past = time.time() - 600
        monkeypatch.setattr(salesforce, "time", types.SimpleNamespace(time=lambda: past))
    with endpoint(tenant_a, **changes) as server:
        configure(tenant_a, "salesforce_api", token_url=server.token_url)
        response = delegate(client, tenant_a, api_type="salesforce_api")
        assert len(server.requests) == 1 and not server.issued
    body = assert_error(response, 400, "invalid_grant")
    assert body["error_description"].startswith(
        "The provider's token service refused the assertion (invalid_"
    )
    (row,) = audit()
    assert (row.type, row.error, row.api_type) == ("fd", "invalid_grant", "salesforce_api")
    assert row.reason == "provider refused 400"
