"""SAP (``sap_api``): the OAuth 2.0 SAML 2.0 bearer assertion grant (RFC 7522).

A SAML 2.0 Assertion (``addons.saml``) signed with the tenant's active key: ``Issuer`` = the
tenant issuer, ``NameID`` = the configured user attribute in the configured name-id format,
a bearer ``SubjectConfirmation`` whose ``Recipient`` is the token endpoint URL, ``Audience`` =
the configured audience (SAP's service provider name; blank = the token endpoint URL, which
RFC 7522 section 3 allows). It is posted base64url-encoded (section 2.1) with ``grant_type``
``urn:ietf:params:oauth:grant-type:saml2-bearer``, ``client_id`` and the configured
``scope``, authenticated with HTTP Basic ``client_id:service_password``, through
``tenantauth.outbound``; SAP's JSON answer is passed through. SAP must trust the tenant's
signing certificate (admin: Add-ons > Signing certificate). No free-form request parameter.
"""

import base64
import time
from datetime import timedelta

from addons import claims, saml
from addons.minters.base import AddonMinter
from addons.minters.salesforce import expires_at, fingerprinted
from delegation import minters
from tenantauth import outbound

GRANT_SAML2_BEARER = "urn:ietf:params:oauth:grant-type:saml2-bearer"
NAME_ID_MAX_CHARS = 256


def encoded(assertion_xml: bytes) -> str:
    """base64url without padding or line breaks (RFC 7522 section 2.1)."""
    return base64.urlsafe_b64encode(assertion_xml).rstrip(b"=").decode()


class SapMinter(AddonMinter):
    api_type = "sap_api"
    display_name = "SAP"

    def signed(self, *, request, settings: dict) -> saml.Signed:
        """The signed assertion for ``request`` (see the module docstring)."""
        name_id = claims.user_identifier(
            request.user, settings["username_attribute"], max_chars=NAME_ID_MAX_CHARS
        )
        token_url = settings["token_endpoint_url"]
        return saml.signed_assertion(
            tenant=request.tenant,
            issuer=request.tenant.issuer,
            name_id=name_id,
            name_id_format=settings["name_id_format"],
            recipient=token_url,
            audience=settings.get("audience") or token_url,
            lifetime=timedelta(seconds=int(settings["lifetime_in_seconds"])),
        )

    def build(self, *, request, config, params) -> minters.Minted:
        settings = config.settings
        now = int(time.time())
        signed = self.signed(request=request, settings=settings)
        form = {
            "grant_type": GRANT_SAML2_BEARER,
            "assertion": encoded(signed.xml()),
            "client_id": settings["client_id"],
        }
        if settings.get("scope"):
            form["scope"] = settings["scope"]
        body = outbound.post_form(
            settings["token_endpoint_url"],
            data=form,
            auth=(settings["client_id"], config.secret_values()["service_password"]),
        )
        return minters.Minted(
            body=body,
            jti=signed.id.lstrip("_"),
            credential=fingerprinted(body),
            expires_at=expires_at(body, now),
        )
