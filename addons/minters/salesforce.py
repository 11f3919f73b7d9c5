"""Salesforce (``salesforce_api``, ``salesforce_sandbox_api``): the OAuth 2.0 JWT bearer flow.

An RFC 7523 assertion (section 3) signed RS256 with the tenant's active key (``kid`` header):
``iss`` = the connected app's consumer key, ``sub`` = the user's Salesforce username (the
configured user attribute), ``aud`` = ``https://login.salesforce.com`` (production),
``https://test.salesforce.com`` (sandbox) or the Experience Cloud site URL when one is set,
an integer ``exp`` at most three minutes ahead (Salesforce's limit), ``iat`` and ``jti``. It
is posted (RFC 7523 section 2.1) to the configured token URL through ``tenantauth.outbound``;
the provider's JSON answer (``access_token``, ``instance_url``, ``id``, ``token_type``,
``scope`` ...) is passed through unchanged. The connected app must hold the tenant's signing
certificate (admin: Add-ons > Signing certificate). No free-form request parameter is
accepted.
"""

import time
import uuid
from datetime import UTC, datetime

import jwt

from addons import claims
from addons.minters.base import AddonMinter
from delegation import minters
from tenantauth import outbound, signing

GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
TOKEN_PATH = "/services/oauth2/token"
MAX_ASSERTION_LIFETIME = 180  # seconds: Salesforce refuses an exp more than 3 minutes ahead
USERNAME_MAX_CHARS = 255


def audience_for(api_type: str, community_url: str) -> str:
    """The assertion's ``aud``: the community (Experience Cloud site) URL when set, else the
    login host of production or sandbox orgs."""
    if community_url:
        return community_url
    return SANDBOX_AUDIENCE if api_type == "salesforce_sandbox_api" else PRODUCTION_AUDIENCE


def expires_at(body: dict, now: int) -> datetime | None:
    """When the provider's access token ends, if its answer says (``expires_in`` seconds)."""
    lifetime = body.get("expires_in")
    if isinstance(lifetime, int) and not isinstance(lifetime, bool) and 0 < lifetime < 10**8:
        return datetime.fromtimestamp(now + lifetime, tz=UTC)
    return None


def fingerprinted(body: dict) -> str:
    """What the audit fingerprint covers: the provider's access token, else the whole answer."""
    token = body.get("access_token")
    return token if isinstance(token, str) and token else repr(sorted(body.items()))


class SalesforceMinter(AddonMinter):
    api_type = "salesforce_api"
    display_name = "Salesforce API"

    def assertion_claims(self, *, request, settings: dict, now: int, jti: str) -> dict:
        """The RFC 7523 claims set for ``request`` (see the module docstring)."""
        username = claims.user_identifier(
            request.user, settings["principal_attribute"], max_chars=USERNAME_MAX_CHARS
        )
        lifetime = min(int(settings["lifetime_in_seconds"]), MAX_ASSERTION_LIFETIME)
        return {
            "iss": settings["consumer_key"],
            "sub": username,
            "aud": audience_for(self.api_type, settings.get("community_url", "")),
            "iat": now,
            "exp": now + lifetime,
            "jti": jti,
        }

    def build(self, *, request, config, params) -> minters.Minted:
        settings = config.settings
        now = int(time.time())
        jti = uuid.uuid4().hex
        key = request.tenant.active_signing_key
        if key is None:
            raise signing.KeyUnavailableError("tenant has no active signing key")
        assertion = jwt.encode(
            self.assertion_claims(request=request, settings=settings, now=now, jti=jti),
            signing.rsa_private_key(key),
            algorithm="RS256",
            headers={"kid": key.kid},
        )
        body = outbound.post_form(
            settings["token_url"],
            data={"grant_type": GRANT_JWT_BEARER, "assertion": assertion},
        )
        return minters.Minted(
            body=body, jti=jti, credential=fingerprinted(body), expires_at=expires_at(body, now)
        )

    def preview(self, *, request) -> minters.Preview:
        """The assertion's header and claims (what is posted to Salesforce), unsigned."""
        from addons import selectors

        config = selectors.addon_configuration_get(
            tenant=request.tenant, application=request.target, addon=self.api_type
        )
        now = int(time.time())
        claims_set = self.assertion_claims(
            request=request, settings=config.settings, now=now, jti=uuid.uuid4().hex
        )
        key = request.tenant.active_signing_key
        header = {"alg": "RS256", "typ": "JWT", **({"kid": key.kid} if key else {})}
        return minters.Preview(header=header, claims=claims_set, expires_in=claims_set["exp"] - now)


class SalesforceSandboxMinter(SalesforceMinter):
    api_type = "salesforce_sandbox_api"
    display_name = "Salesforce Sandbox API"
