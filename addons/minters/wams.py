"""Windows Azure Mobile Services: the Mobile Services ("zumo") authentication token.

As the Mobile Services runtime issued and checked it (``X-ZUMO-AUTH``): header
``{"alg": "HS256", "typ": "JWT", "kid": "0"}``; claims ``exp``, ``iss`` =
``urn:microsoft:windows-azure:zumo``, ``ver`` = 2, ``aud`` = ``Custom`` (the provider name of
custom authentication) and ``uid`` (the configured user attribute, which the service sees as
``user.userId``). The HMAC-SHA256 key is not the master key itself but
``SHA-256(master_key + "JWTSig")`` (the runtime's signing-key derivation; its master keys are
ASCII). Answered as ``{"id_token", "token_type": "Bearer", "expires_in"}``. No free-form
request parameter is accepted.
"""

import hashlib
import time

import jwt

from addons import claims
from addons.minters.base import AddonMinter, expiry, new_id
from delegation import minters

ZUMO_ISSUER = "urn:microsoft:windows-azure:zumo"
ZUMO_AUDIENCE = "Custom"
SIGNING_SUFFIX = "JWTSig"
UID_MAX_CHARS = 256


def signing_key(master_key: str) -> bytes:
    """The HMAC key Mobile Services derives from its master key."""
    return hashlib.sha256((master_key + SIGNING_SUFFIX).encode()).digest()


class WamsMinter(AddonMinter):
    api_type = "wams"
    display_name = "Windows Azure Mobile Services"

    def build(self, *, request, config, params) -> minters.Minted:
        settings = config.settings
        uid = claims.user_identifier(
            request.user, settings["uid_attribute"], max_chars=UID_MAX_CHARS
        )
        now = int(time.time())
        lifetime = int(settings["lifetime_in_seconds"])
        token = jwt.encode(
            {
                "exp": now + lifetime,
                "iss": ZUMO_ISSUER,
                "ver": 2,
                "aud": ZUMO_AUDIENCE,
                "uid": uid,
            },
            signing_key(config.secret_values()["master_key"]),
            algorithm="HS256",
            headers={"kid": "0"},
        )
        return minters.Minted(
            body={"id_token": token, "token_type": "Bearer", "expires_in": lifetime},
            jti=new_id(),
            credential=token,
            expires_at=expiry(now, lifetime),
        )
