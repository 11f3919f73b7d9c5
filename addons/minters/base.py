"""What every add-on minter shares.

Readiness (``refusal``) is decided from the target's add-on configurations, loaded once per
request (``addons.selectors``). ``mint`` is pure computation: it builds the credential from the
configuration, the user and the request's free-form parameters, and returns a
``delegation.minters.Minted``; the delegation service records the audit row (with ``jti`` and
the fingerprint of ``credential``) before the body leaves.

Free-form parameters (``request.extra``): an add-on accepts only the parameters it documents,
and only when its configuration allows them (``accepted_parameters``). Anything else, a
reserved claim name such as ``uid``, ``exp`` or ``aud`` included, is refused with 400
``invalid_request`` and nothing is issued: a credential never silently differs from what the
caller asked for, and no parameter can ever reach a reserved claim.
"""

import uuid
from datetime import UTC, datetime
from functools import lru_cache

from cryptography.hazmat.primitives.asymmetric import rsa

from addons import selectors
from addons.models import AddonConfiguration
from delegation import minters
from delegation.errors import DelegationError
from delegation.rules import Refusal, Rule
from tenantauth import signing
from tenantauth.models import Application, Tenant

MAX_PARAMETER_CHARS = 1024


def parameter_refused(reason: str) -> DelegationError:
    return DelegationError(
        "invalid_request", description="Parameter not allowed for this api_type.", reason=reason
    )


@lru_cache(maxsize=256)
def rsa_private_key(pem: str) -> rsa.RSAPrivateKey:
    """A parsed RSA private key (parsing costs milliseconds; cached per process by PEM).

    Keys were validated at save time; one that no longer parses or is too short is a server
    fault (500, nothing issued), never a silent weak signature.
    """
    try:
        return signing.load_rsa_private_pem(pem)
    except ValueError as exc:
        raise signing.WeakKeyError("stored add-on key unusable") from exc


def expiry(now: int, seconds: int) -> datetime:
    return datetime.fromtimestamp(now + seconds, tz=UTC)


def new_id() -> str:
    """An audit id for a credential that has no ``jti`` of its own."""
    return uuid.uuid4().hex


class AddonMinter:
    """Base class: subclasses set ``api_type``/``display_name`` and implement ``build``."""

    api_type = ""
    display_name = ""

    def accepted_parameters(self, settings: dict) -> frozenset[str]:
        """Free-form request parameters this configuration accepts (none by default)."""
        return frozenset()

    def refusal(
        self, *, tenant: Tenant, source: Application, target: Application
    ) -> Refusal | None:
        """None when the add-on is configured and enabled on ``target``, else why not."""
        config = selectors.addon_configuration_get(
            tenant=tenant, application=target, addon=self.api_type
        )
        name = target.name or target.client_id
        if config is None:
            return Refusal(
                Rule.ADDON_NOT_CONFIGURED,
                f"refused: the {self.display_name} add-on is not configured on {name}",
            )
        if not config.enabled:
            return Refusal(
                Rule.ADDON_DISABLED, f"refused: the {self.display_name} add-on is off on {name}"
            )
        return None

    def parameters(self, extra: dict, settings: dict) -> dict[str, str]:
        """The request's free-form parameters, refused unless this configuration accepts them.

        JSON ``null`` counts as absent (SPEC 4); values must be strings.
        """
        accepted = self.accepted_parameters(settings)
        params = {}
        for name, value in extra.items():
            if value is None:
                continue
            if name not in accepted:
                raise parameter_refused("addon parameter not allowed")
            if not isinstance(value, str) or not value or len(value) > MAX_PARAMETER_CHARS:
                raise parameter_refused("addon parameter value invalid")
            params[name] = value
        return params

    def mint(self, *, request: minters.MintRequest) -> minters.Minted:
        config = selectors.addon_configuration_get(
            tenant=request.tenant, application=request.target, addon=self.api_type
        )
        if config is None or not config.enabled:  # the policy refused this already
            raise LookupError(f"{self.api_type} is not ready on the target")
        params = self.parameters(request.extra, config.settings)
        return self.build(request=request, config=config, params=params)

    def build(
        self, *, request: minters.MintRequest, config: AddonConfiguration, params: dict
    ) -> minters.Minted:
        raise NotImplementedError
