"""Firebase: the custom token has the header and claims ``firebase-admin``'s
``create_custom_token`` gives the same service account, the legacy token is byte for byte
``firebase-token-generator``'s, and the Firebase Auth emulator signs in with ours.

The emulator does not check signatures (it logs "Auth Emulator does not validate JWTs and IS
NOT SECURE"): a test shows it, and the signature is verified here with the service account's
public key (PyJWT) instead."""

import base64
import json
import uuid
from datetime import UTC, datetime

import firebase_admin
import firebase_token_generator
import httpx
import jwt
import pytest
import time_machine
from cryptography.hazmat.primitives import serialization
from firebase_admin import auth as firebase_auth
from firebase_admin import credentials

from addons.minters import firebase as firebase_minter
from addons.minters.firebase import FIREBASE_AUDIENCE
from tenantauth import services as tenant_services
from tests.delegation.helpers import delegate

NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
CLIENT_EMAIL = "tenantauth@demo-i8.iam.gserviceaccount.com"
KEY_ID = "0f" * 20


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segments(token):
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


@pytest.fixture
def admin_sdk_app(rsa_pem):
    """A firebase-admin app initialised with the same (freshly generated) service account."""
    account = {
        "type": "service_account",
        "project_id": "demo-tenantauth",
        "private_key_id": KEY_ID,
        "private_key": rsa_pem,
        "client_email": CLIENT_EMAIL,
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    app = firebase_admin.initialize_app(
        credentials.Certificate(account), name=f"t-{uuid.uuid4().hex}"
    )
    yield app
    firebase_admin.delete_app(app)


def _public_key(pem):
    return serialization.load_pem_private_key(pem.encode(), password=None).public_key()


@pytest.mark.parametrize(
    ("attributes", "expected_claims"),
    [([], None), (["email", "name", "email_verified"], "user")],
)
def test_custom_token_matches_firebase_admin(
    client, tenant_a, configure, admin_sdk_app, rsa_pem, attributes, expected_claims
):
    """Frozen time, same service account, uid and developer claims: the same header and the
    same claims as create_custom_token, and a signature that verifies with the account's
    public key."""
    configure(tenant_a, "firebase", claims_attributes=attributes)
    user = tenant_a["user"]
    developer_claims = (
        {"email": user.email, "name": user.name, "email_verified": True}
        if expected_claims
        else None
    )
    with time_machine.travel(NOW, tick=False):
        ours = delegate(client, tenant_a, api_type="firebase").json()["id_token"]
        theirs = firebase_auth.create_custom_token(
            user.user_id, developer_claims, app=admin_sdk_app
        ).decode()
        verified = jwt.decode(
            ours, _public_key(rsa_pem), algorithms=["RS256"], audience=FIREBASE_AUDIENCE
        )
    our_header, our_claims, _ = _segments(ours)
    their_header, their_claims, _ = _segments(theirs)
    assert our_header == their_header == {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
    assert our_claims == their_claims
    assert our_claims["aud"] == FIREBASE_AUDIENCE and our_claims["uid"] == user.user_id
    assert verified == their_claims


def test_lifetime_and_uid_attribute_are_configurable(client, tenant_a, configure, rsa_pem):
    """lifetime_in_seconds sets exp - iat (and expires_in); uid_attribute picks the uid."""
    configure(tenant_a, "firebase", lifetime_in_seconds=600, uid_attribute="email")
    data = delegate(client, tenant_a, api_type="firebase").json()
    claims = jwt.decode(
        data["id_token"], _public_key(rsa_pem), algorithms=["RS256"], audience=FIREBASE_AUDIENCE
    )
    assert claims["exp"] - claims["iat"] == data["expires_in"] == 600
    assert claims["uid"] == tenant_a["user"].email


def test_uid_longer_than_128_characters_is_refused(client, tenant_a, configure, audit):
    """Firebase's uid is 1-128 characters: a longer attribute is refused, nothing issued."""
    configure(tenant_a, "firebase", uid_attribute="name")
    tenant_services.tenant_user_update(user=tenant_a["user"], name="n" * 129)
    response = delegate(client, tenant_a, api_type="firebase")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert [r.type for r in audit()] == ["fd"]


@pytest.mark.parametrize("attributes", [[], ["name", "nickname", "app_metadata"]])
def test_legacy_token_is_byte_identical_to_firebase_token_generator(
    client, tenant_a, configure, keys, attributes
):
    """Frozen time, same secret and data: the exact bytes of create_token(secret, data,
    {"expires": exp})."""
    tenant_services.tenant_user_update(user=tenant_a["user"], app_metadata={"plan": "gold"})
    configure(
        tenant_a,
        "firebase",
        token_format="legacy",
        client_email="",
        private_key_id="",
        lifetime_in_seconds=1800,
        claims_attributes=attributes,
        secrets={"secret": keys["firebase_secret"]},
    )
    user = tenant_a["user"]
    data = {"uid": user.user_id}
    for name in attributes:
        data[name] = getattr(user, name)
    with time_machine.travel(NOW, tick=False):
        ours = delegate(client, tenant_a, api_type="firebase").json()
        theirs = firebase_token_generator.create_token(
            keys["firebase_secret"], data, {"expires": int(NOW.timestamp()) + 1800}
        )
    assert ours["id_token"] == theirs
    assert ours["expires_in"] == 1800


# --- the Firebase Auth emulator ----------------------------------------------------------------
def _sign_in(emulator: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{emulator}/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken",
        params={"key": "any"},
        json={"token": token, "returnSecureToken": True},
        timeout=10,
    )


def _token(client, setup, configure, **addon_settings):
    configure(setup, "firebase", **addon_settings)
    response = delegate(client, setup, api_type="firebase")
    assert response.status_code == 200, response.content
    return response.json()["id_token"]


def test_emulator_signs_in_with_our_custom_token(
    client, tenant_a, configure, firebase_auth_emulator
):
    """signInWithCustomToken accepts our token: the Firebase user's id is our uid and the
    configured claims reach the Firebase ID token."""
    tenant_services.tenant_user_update(user=tenant_a["user"], app_metadata={"plan": "gold"})
    token = _token(
        client, tenant_a, configure, claims_attributes=["nickname", "name", "app_metadata"]
    )
    response = _sign_in(firebase_auth_emulator, token)
    assert response.status_code == 200, response.text
    _, firebase_claims, _ = _segments(response.json()["idToken"])
    assert firebase_claims["user_id"] == firebase_claims["sub"] == tenant_a["user"].user_id
    assert firebase_claims["nickname"] == tenant_a["user"].nickname
    assert firebase_claims["name"] == tenant_a["user"].name
    assert firebase_claims["app_metadata"] == {"plan": "gold"}
    assert firebase_claims["firebase"]["sign_in_provider"] == "custom"


@pytest.mark.parametrize(
    "tamper",
    ["audience", "reserved_claim", "no_uid", "not_a_jwt"],
)
def test_emulator_refuses_a_tampered_token(
    client, tenant_a, configure, firebase_auth_emulator, tamper
):
    """A token whose payload was changed in the ways the emulator checks (another audience, a
    reserved name inside claims, no uid, a broken structure) is refused with
    INVALID_CUSTOM_TOKEN / FORBIDDEN_CLAIM / MISSING_IDENTIFIER."""
    token = _token(client, tenant_a, configure, claims_attributes=["email"])
    header, claims, signature = token.split(".")
    _, payload, _ = _segments(token)
    if tamper == "audience":
        payload["aud"] = "https://example.org/another-audience"
    elif tamper == "reserved_claim":
        payload["claims"]["firebase"] = {"sign_in_provider": "password"}
    elif tamper == "no_uid":
        del payload["uid"]
    tampered = f"{header}.{_b64url(json.dumps(payload).encode())}.{signature}"
    if tamper == "not_a_jwt":
        tampered = token.replace(".", "", 1)
    response = _sign_in(firebase_auth_emulator, tampered)
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert message.split(" ")[0] in {
        "INVALID_CUSTOM_TOKEN",
        "FORBIDDEN_CLAIM",
        "MISSING_IDENTIFIER",
    }


def test_emulator_does_not_check_signatures_so_we_do(
    client, tenant_a, configure, firebase_auth_emulator, rsa_pem
):
    """Known emulator limit: a token whose uid was changed after signing still signs in on
    the emulator. Production Firebase checks the signature; here PyJWT does, with the service
    account's public key: ours verifies, the tampered one does not."""
    token = _token(client, tenant_a, configure)
    header, _, signature = token.split(".")
    _, payload, _ = _segments(token)
    payload["uid"] = "someone-else"
    tampered = f"{header}.{_b64url(json.dumps(payload).encode())}.{signature}"
    assert _sign_in(firebase_auth_emulator, tampered).status_code == 200  # emulator: no check
    public = _public_key(rsa_pem)
    jwt.decode(token, public, algorithms=["RS256"], audience=FIREBASE_AUDIENCE)
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, public, algorithms=["RS256"], audience=FIREBASE_AUDIENCE)


@pytest.mark.parametrize("name", sorted(firebase_minter.RESERVED_CLAIMS))
def test_custom_token_never_carries_a_reserved_claim(rsa_pem, name):
    """Firebase's reserved names (acr amr at_hash aud auth_time azp cnf c_hash exp firebase
    iat iss jti nbf nonce sub) are refused inside claims, as firebase-admin refuses them."""
    with pytest.raises(ValueError):
        firebase_minter.custom_token(
            client_email=CLIENT_EMAIL,
            private_key_id=KEY_ID,
            private_key_pem=rsa_pem,
            uid="u1",
            now=0,
            lifetime=60,
            developer_claims={name: "x"},
        )
    from firebase_admin import _token_gen

    assert firebase_minter.RESERVED_CLAIMS == _token_gen.RESERVED_CLAIMS
