"""Firebase: a custom token for ``signInWithCustomToken`` (SDK v3+) or a legacy token (SDK v2).

Custom token (what ``firebase-admin``'s ``create_custom_token`` makes, Firebase's "Create
custom tokens using a third-party JWT library"): RS256 signed with the service account's
private key, header ``kid`` = ``private_key_id``, claims ``iss`` = ``sub`` = ``client_email``,
``aud`` = the Identity Toolkit audience, ``uid`` (1-128 characters), ``iat``, ``exp`` (at most
an hour later) and, when the admin chose attributes, ``claims`` (never one of Firebase's
reserved names: none of the copyable attributes is one).

Legacy token (``firebase-token-generator``'s format, byte for byte): HS256 keyed with the
database secret's UTF-8 bytes over compact JSON, header ``{"typ":"JWT","alg":"HS256"}``,
claims ``{"exp", "v": 0, "iat", "d": {"uid", ...claims}}``, at most 1,024 characters.

Both are answered as ``{"id_token", "token_type": "Bearer", "expires_in"}``. No free-form
request parameter is accepted.
"""

import base64
import hashlib
import hmac
import json
import time

import jwt

from addons import claims
from addons.forms import FIREBASE_LEGACY
from addons.minters.base import AddonMinter, expiry, new_id, rsa_private_key
from delegation import minters
from delegation.errors import DelegationError

FIREBASE_AUDIENCE = (
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"
)
# Firebase's reserved claim names: never inside ``claims``.
RESERVED_CLAIMS = frozenset(
    {
        "acr",
        "amr",
        "at_hash",
        "aud",
        "auth_time",
        "azp",
        "cnf",
        "c_hash",
        "exp",
        "firebase",
        "iat",
        "iss",
        "jti",
        "nbf",
        "nonce",
        "sub",
    }
)
UID_MAX_CHARS = 128
LEGACY_MAX_TOKEN_CHARS = 1024


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact_json(value) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def custom_token(
    *,
    client_email: str,
    private_key_id: str,
    private_key_pem: str,
    uid: str,
    now: int,
    lifetime: int,
    developer_claims: dict | None,
) -> str:
    """A Firebase custom token (RS256). ``developer_claims`` None or {} adds no ``claims``."""
    if developer_claims and RESERVED_CLAIMS & developer_claims.keys():
        raise ValueError("reserved Firebase claim")
    payload = {
        "iss": client_email,
        "sub": client_email,
        "aud": FIREBASE_AUDIENCE,
        "uid": uid,
        "iat": now,
        "exp": now + lifetime,
    }
    if developer_claims:
        payload["claims"] = developer_claims
    return jwt.encode(
        payload,
        rsa_private_key(private_key_pem),
        algorithm="RS256",
        headers={"kid": private_key_id},
    )


def legacy_token(*, secret: str, data: dict, now: int, expires: int) -> str:
    """A Firebase v0 token, as ``firebase_token_generator.create_token(secret, data,
    {"expires": expires})`` builds it."""
    header = _b64url(_compact_json({"typ": "JWT", "alg": "HS256"}))
    body = _b64url(_compact_json({"exp": expires, "v": 0, "iat": now, "d": data}))
    signing_input = f"{header}.{body}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


class FirebaseMinter(AddonMinter):
    api_type = "firebase"
    display_name = "Firebase"

    def build(self, *, request, config, params) -> minters.Minted:
        settings = config.settings
        secrets = config.secret_values()
        now = int(time.time())
        lifetime = int(settings["lifetime_in_seconds"])
        uid = claims.user_identifier(
            request.user, settings["uid_attribute"], max_chars=UID_MAX_CHARS
        )
        extra_claims = claims.user_claims(request.user, list(settings.get("claims_attributes", [])))
        if settings["token_format"] == FIREBASE_LEGACY:
            token = legacy_token(
                secret=secrets["secret"],
                data={"uid": uid, **extra_claims},
                now=now,
                expires=now + lifetime,
            )
            if len(token) > LEGACY_MAX_TOKEN_CHARS:
                raise DelegationError(
                    "invalid_request",
                    description="A claim cannot be issued.",
                    reason="firebase legacy token too long",
                )
        else:
            token = custom_token(
                client_email=settings["client_email"],
                private_key_id=settings["private_key_id"],
                private_key_pem=secrets["private_key"],
                uid=uid,
                now=now,
                lifetime=lifetime,
                developer_claims=extra_claims,
            )
        return minters.Minted(
            body={"id_token": token, "token_type": "Bearer", "expires_in": lifetime},
            jti=new_id(),
            credential=token,
            expires_at=expiry(now, lifetime),
        )
