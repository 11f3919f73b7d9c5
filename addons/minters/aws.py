"""AWS (``aws``): a SAML 2.0 Response traded at STS ``AssumeRoleWithSAML``.

The assertion (``addons.saml``), signed with the tenant's active key: ``Issuer`` = the tenant
issuer, ``NameID`` (persistent) = the user's ``user_id``, a bearer ``SubjectConfirmation``
and an ``Audience`` for AWS's SAML endpoint ``https://signin.aws.amazon.com/saml``, and the
attributes AWS reads (IAM User Guide, "Configuring SAML assertions for the authentication
response"): ``https://aws.amazon.com/SAML/Attributes/Role`` = ``"<role ARN>,<principal
ARN>"`` (the role to assume and the IAM SAML provider that trusts the tenant's certificate),
``RoleSessionName`` (the configured user attribute; AWS allows ``[\\w+=,.@-]{2,64}``) and
``SessionDuration``. The Response goes to STS at the configured region and endpoint with
boto3 (unsigned: ``AssumeRoleWithSAML`` needs no AWS credentials); boto3 builds the request
and parses the answer, and the bytes travel through ``tenantauth.outbound`` (a
``before-send`` hook), so STS gets the same deadline, size cap and address guard as every
provider. The answer passes STS's result through (``Credentials`` with ``AccessKeyId``,
``SecretAccessKey``, ``SessionToken``, ``Expiration``; ``AssumedRoleUser``, ``Subject``,
``Issuer``, ``Audience`` ...), dates as ISO 8601 strings, as the legacy product did.

Free-form parameters: ``role`` and ``principal``, only when the admin allows overrides, and
only ARNs from the admin's lists (else 400 ``invalid_request``, nothing issued).
"""

import base64
import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from django.conf import settings as django_settings

from addons import claims, saml
from addons.minters.base import AddonMinter, parameter_refused
from delegation import minters
from delegation.errors import DelegationError
from tenantauth import outbound

AWS_SAML_ENDPOINT = "https://signin.aws.amazon.com/saml"
ROLE_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/Role"
SESSION_NAME_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
SESSION_DURATION_ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
PRINCIPAL_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:saml-provider/[\w.-]{1,128}$")
SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$", re.ASCII)
ASSERTION_LIFETIME = timedelta(minutes=5)


class _Raw:
    """What botocore reads an answer's body from (``stream()``)."""

    def __init__(self, content: bytes):
        self._content = content

    def stream(self, **kwargs):
        yield self._content


def _send_through_seam(request, **kwargs):
    """botocore ``before-send`` hook: send the prepared request through the outbound seam;
    returns a ``botocore.awsrequest.AWSResponse``."""
    from botocore.awsrequest import AWSResponse

    headers = {
        name: value.decode() if isinstance(value, bytes) else value
        for name, value in request.headers.items()
        if name.lower() not in ("content-length", "host", "expect")
    }
    body = request.body
    if isinstance(body, str):
        body = body.encode()
    elif body is not None and not isinstance(body, bytes):
        body = body.read()
    answer = outbound.send(request.method, request.url, headers=headers, content=body)
    return AWSResponse(request.url, answer.status_code, answer.headers, _Raw(answer.content))


@lru_cache(maxsize=32)
def sts_client(region: str, endpoint_url: str):
    """A boto3 STS client for ``region`` (``endpoint_url`` blank: AWS's regional endpoint),
    unsigned, without retries, sending through ``tenantauth.outbound``. Clients are
    thread-safe and costly to build: one per (region, endpoint) and process. boto3 is
    imported here, not at start-up (half a second a worker would spend for nothing when no
    tenant uses AWS)."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    client = boto3.session.Session().client(
        "sts",
        region_name=region,
        endpoint_url=endpoint_url or None,
        config=Config(
            signature_version=UNSIGNED,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=django_settings.OUTBOUND_CONNECT_TIMEOUT_SECONDS,
            read_timeout=django_settings.OUTBOUND_TIMEOUT_SECONDS,
        ),
    )
    client.meta.events.register("before-send.sts.AssumeRoleWithSAML", _send_through_seam)
    return client


def _jsonable(value):
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def arn_list(value) -> list[str]:
    return [item for item in (value or []) if item]


class AwsMinter(AddonMinter):
    api_type = "aws"
    display_name = "Amazon Web Services"

    def accepted_parameters(self, settings):
        return frozenset({"role", "principal"}) if settings.get("allow_overrides") else frozenset()

    def role_and_principal(self, settings: dict, params: dict) -> tuple[str, str]:
        """The configured role and principal, or the request's overrides when allowed and
        listed by the admin (``parameters`` already refused them when overrides are off)."""
        role = params.get("role", settings["role"])
        principal = params.get("principal", settings["principal"])
        if role != settings["role"] and role not in arn_list(settings.get("allowed_roles")):
            raise parameter_refused("aws role not in the allowed list")
        if principal != settings["principal"] and principal not in arn_list(
            settings.get("allowed_principals")
        ):
            raise parameter_refused("aws principal not in the allowed list")
        return role, principal

    def signed_response(self, *, request, settings: dict, role: str, principal: str) -> tuple:
        session_name = claims.user_identifier(
            request.user, settings["session_name_attribute"], max_chars=64
        )
        if not SESSION_NAME.match(session_name):
            raise DelegationError(
                "invalid_request",
                description="The user cannot be named in this credential.",
                reason="aws role session name unusable",
            )
        signed = saml.signed_assertion(
            tenant=request.tenant,
            issuer=request.tenant.issuer,
            name_id=claims.user_identifier(request.user, "user_id", max_chars=256),
            name_id_format="persistent",
            recipient=AWS_SAML_ENDPOINT,
            audience=AWS_SAML_ENDPOINT,
            lifetime=ASSERTION_LIFETIME,
            attributes={
                ROLE_ATTRIBUTE: [f"{role},{principal}"],
                SESSION_NAME_ATTRIBUTE: [session_name],
                SESSION_DURATION_ATTRIBUTE: [str(int(settings["lifetime_in_seconds"]))],
            },
        )
        document = saml.response(
            issuer=request.tenant.issuer, destination=AWS_SAML_ENDPOINT, signed=signed
        )
        return signed, document

    def build(self, *, request, config, params) -> minters.Minted:
        settings = config.settings
        role, principal = self.role_and_principal(settings, params)
        signed, document = self.signed_response(
            request=request, settings=settings, role=role, principal=principal
        )
        client = sts_client(settings["region"], settings.get("sts_endpoint_url", ""))
        import botocore.exceptions  # loaded with the client above

        try:
            result = client.assume_role_with_saml(
                RoleArn=role,
                PrincipalArn=principal,
                SAMLAssertion=base64.b64encode(document).decode(),
                DurationSeconds=int(settings["lifetime_in_seconds"]),
            )
        except botocore.exceptions.ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            raise outbound.ProviderRefused(
                status=status,
                error=outbound.provider_text(error.get("Code"), max_chars=64),
                description=outbound.provider_text(error.get("Message"), max_chars=200),
            ) from None
        except botocore.exceptions.ResponseParserError:
            # An answer botocore cannot parse (a 2xx that is not STS XML).
            raise outbound.ProviderUnavailable("provider answer unreadable") from None
        result.pop("ResponseMetadata", None)
        body = _jsonable(result)
        credentials = result.get("Credentials") or {}
        expiration = credentials.get("Expiration")
        return minters.Minted(
            body=body,
            jti=signed.id.lstrip("_"),
            credential=str(credentials.get("SessionToken") or body),
            expires_at=expiration if isinstance(expiration, datetime) else None,
        )
