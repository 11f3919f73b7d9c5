"""Layer: an identity token answering Layer's authentication challenge.

Layer's "Identity token" format: a JWS signed RS256 with the provider's authentication key;
header ``typ: JWS``, ``cty: layer-eit;v=1``, ``kid`` = the key id; claims ``iss`` = the provider
id, ``prn`` = the user (the configured principal attribute), ``iat``, ``exp`` and ``nce`` = the
nonce Layer's client SDK got from the challenge. The caller sends that nonce as the ``nonce``
parameter; it is required (400 ``invalid_request`` without it) and it is the only free-form
parameter accepted. Answered as ``{"id_token", "token_type": "Bearer", "expires_in"}``.
"""

import time

import jwt

from addons import claims
from addons.minters.base import AddonMinter, expiry, new_id, rsa_private_key
from delegation import minters
from delegation.errors import DelegationError

PRINCIPAL_MAX_CHARS = 256


class LayerMinter(AddonMinter):
    api_type = "layer"
    display_name = "Layer"

    def accepted_parameters(self, settings):
        return frozenset({"nonce"})

    def build(self, *, request, config, params) -> minters.Minted:
        nonce = params.get("nonce")
        if not nonce:
            raise DelegationError(
                "invalid_request",
                description="Missing required parameter: nonce.",
                reason="nonce missing",
            )
        claims.copied_claims_check({"nce": nonce})
        settings = config.settings
        principal = claims.user_identifier(
            request.user, settings["principal_attribute"], max_chars=PRINCIPAL_MAX_CHARS
        )
        now = int(time.time())
        lifetime = int(settings["expiration"]) * 60
        token = jwt.encode(
            {
                "iss": settings["provider_id"],
                "prn": principal,
                "iat": now,
                "exp": now + lifetime,
                "nce": nonce,
            },
            rsa_private_key(config.secret_values()["private_key"]),
            algorithm="RS256",
            headers={"typ": "JWS", "cty": "layer-eit;v=1", "kid": settings["key_id"]},
        )
        return minters.Minted(
            body={"id_token": token, "token_type": "Bearer", "expires_in": lifetime},
            jti=new_id(),
            credential=token,
            expires_at=expiry(now, lifetime),
        )
