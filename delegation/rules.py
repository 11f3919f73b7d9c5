"""The vocabulary of delegation decisions: rule names and a minter's refusal.

Kept apart from ``policy`` so minters (which ``policy`` consults) can name a rule without
importing the policy itself.
"""

from dataclasses import dataclass


class Rule:
    """Machine names of the rules that decide (stored in the audit row's ``reason``)."""

    SELF = "self_delegation"
    LISTED = "in_allowlist"
    EMPTY_MEANS_ALL = "empty_allowlist_means_all"
    TARGET_UNKNOWN = "target_unknown"
    TARGET_INACTIVE = "target_inactive"
    API_TYPE_UNSUPPORTED = "api_type_unsupported"
    NOT_LISTED = "not_in_allowlist"
    EMPTY_MEANS_NONE = "empty_allowlist_means_none"
    SOURCE_OIDC_CONFORMANT = "source_oidc_conformant"
    TARGET_OIDC_CONFORMANT = "target_oidc_conformant"
    ADDON_DISABLED = "addon_disabled"
    ADDON_NOT_CONFIGURED = "addon_not_configured"


@dataclass(frozen=True)
class Refusal:
    """A minter's reason not to mint for a target: a ``Rule`` name and a sentence."""

    rule: str
    explanation: str
