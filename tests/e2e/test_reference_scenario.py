"""SPEC section 1, end to end on a real server: a user signs in through appA (or appB) at
``/t/<slug>/oauth/token`` (password-realm grant), the app trades the id_token at
``/t/<slug>/delegation`` for a token for apiC, and apiC verifies it with its own key (HS256
secret or the tenant key from the JWKS); it fails with the caller's key; an application not on
apiC's Allowed APPs / APIs is refused."""

import jwt
import pytest
import requests

from tenantauth import services
from tenantauth.models import GRANT_DELEGATION_ID_TOKEN, GRANT_PASSWORD_REALM
from tests.conftest import USER_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def sign_in(base, app, user) -> str:
    response = requests.post(
        f"{base}/oauth/token",
        json={
            "grant_type": GRANT_PASSWORD_REALM,
            "client_id": app.client_id,
            "client_secret": app.client_secret(),
            "username": user.email,
            "password": USER_PASSWORD,
            "realm": "Username-Password-Authentication",
            "scope": "openid",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text[:300]
    return response.json()["id_token"]


def delegate(base, app, id_token, target):
    return requests.post(
        f"{base}/delegation",
        json={
            "client_id": app.client_id,
            "grant_type": GRANT_JWT_BEARER,
            "id_token": id_token,
            "target": target.client_id,
            "scope": "openid",
        },
        timeout=30,
    )


def api_c_key(base, api_c, token):
    """What apiC verifies with: its client secret (HS256) or the tenant key from the JWKS."""
    if api_c.jwt_signature_algorithm == "HS256":
        return api_c.client_secret()
    kid = jwt.get_unverified_header(token)["kid"]
    jwks = requests.get(f"{base}/.well-known/jwks.json", timeout=30).json()
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == kid]
    return jwt.PyJWK(jwk).key


@pytest.mark.parametrize("target_alg", ["HS256", "RS256"])
def test_reference_scenario(live_server, settings, tenant_a, target_alg):
    """appA and appB each get a token for apiC that apiC verifies with its key and that fails
    with the caller's secret; a third app not on apiC's list gets invalid_target."""
    settings.PUBLIC_BASE_URL = live_server.url
    tenant, api_c, user = tenant_a["tenant"], tenant_a["apiC"], tenant_a["user"]
    services.application_update(application=api_c, jwt_signature_algorithm=target_alg)
    base = f"{live_server.url}/t/{tenant.slug}"

    for caller in (tenant_a["appA"], tenant_a["appB"]):
        id_token = sign_in(base, caller, user)
        response = delegate(base, caller, id_token, api_c)
        assert response.status_code == 200, response.text[:300]
        assert response.headers["Cache-Control"] == "no-store"
        token = response.json()["id_token"]
        claims = jwt.decode(
            token,
            api_c_key(base, api_c, token),
            algorithms=[target_alg],
            audience=api_c.client_id,
            issuer=tenant.issuer,
        )
        assert claims["sub"] == user.user_id and claims["aud"] == api_c.client_id
        with pytest.raises(jwt.InvalidTokenError):
            jwt.decode(
                token, caller.client_secret(), algorithms=["HS256"], audience=api_c.client_id
            )

    outsider = services.application_create(
        tenant=tenant, name="appD", grant_types=[GRANT_PASSWORD_REALM, GRANT_DELEGATION_ID_TOKEN]
    )
    id_token = sign_in(base, outsider, user)
    refused = delegate(base, outsider, id_token, api_c)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_target"
    assert "id_token" not in refused.json()
