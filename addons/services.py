"""Writes of add-on configurations. The tenant is always explicit; every change is audited.

``addon_configure`` is the only way a configuration is created or changed (admin pages,
``manage.py demo``, later the management API). It validates through the add-on's own form
(``addons.forms``), encrypts the secrets through ``tenantauth.crypto``, and records one
``addon_changed`` audit event in the same transaction naming the add-on and the fields that
changed: settings with their old and new values (they are not secret), secrets only as
"replaced" or "removed", never a value.
"""

import json

from django.core.exceptions import ValidationError
from django.db import transaction

from addons import registry
from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tenantauth import crypto
from tenantauth.models import Application, Tenant


@transaction.atomic
def addon_configure(
    *,
    tenant: Tenant,
    application: Application,
    addon: str,
    enabled: bool,
    settings: dict,
    secrets: dict[str, str],
    actor=None,
) -> AddonConfiguration:
    """Create or update ``application``'s configuration of ``addon`` (an api_type).

    ``settings``: every non-secret setting of the add-on's form (``SETTINGS``); ``secrets``:
    only the secrets typed anew (``{name: value}``); a secret not given keeps its stored value.
    Secrets the chosen settings no longer use (Firebase switching token format) are dropped.

    Raises ``ValidationError`` (nothing saved) for an unknown add-on, an application of another
    tenant, unknown or missing fields, or a value the form refuses (malformed PEM, short key).
    """
    spec = registry.SPECS.get(addon)
    if spec is None:
        raise ValidationError({"addon": "Select a valid choice. Unknown add-on."})
    if application.tenant_id != tenant.pk:
        # The same answer as an unknown application: nothing of the other tenant is touched.
        raise ValidationError(
            {"application": "Select a valid choice. That application is not of this tenant."}
        )
    existing = (
        AddonConfiguration.objects.select_for_update()
        .filter(tenant=tenant, application=application, addon=addon)
        .first()
    )
    form = spec.form_class.bind(
        enabled=enabled, settings=settings, secrets=secrets, configuration=existing
    )
    if not form.is_valid():
        raise ValidationError(_messages(form))

    config = existing or AddonConfiguration(tenant=tenant, application=application, addon=addon)
    before_enabled = existing.enabled if existing else None
    before_settings = dict(existing.settings) if existing else {}
    kept = form.kept_secret_names()
    typed = form.typed_secrets()
    try:
        stored = existing.secret_values() if existing else {}
    except crypto.DecryptionError:
        # Written under a field-encryption key since dropped: what cannot be read must be
        # typed again (never silently lost, never replaced by a guess).
        stored = {}
        missing = [name for name in kept if name not in typed]
        if missing:
            raise ValidationError(
                {
                    name: "The stored value cannot be decrypted with the configured keys; "
                    "type it again."
                    for name in missing
                }
            ) from None
    merged = {name: value for name, value in stored.items() if name in kept}
    merged.update(typed)
    secret_changes = {name: "replaced" for name in typed}
    secret_changes.update({name: "removed" for name in stored if name not in merged})

    config.enabled = form.cleaned_data["enabled"]
    config.settings = form.settings_values()
    if secret_changes or not existing:
        config.secrets_ciphertext = crypto.encrypt(json.dumps(merged)) if merged else ""
    config.secret_names = sorted(merged)
    config.full_clean()
    config.save()

    details: dict = {"addon": addon, "client_id": application.client_id}
    if existing is None:
        details["created"] = True
    if before_enabled != config.enabled:
        details["enabled"] = [before_enabled, config.enabled]
    changed_settings = {
        name: [before_settings.get(name), value]
        for name, value in config.settings.items()
        if before_settings.get(name) != value
    }
    if changed_settings:
        details["settings"] = changed_settings
    if secret_changes:
        details["secrets"] = secret_changes
    if existing is None or len(details) > 2:
        AuditEvent.objects.create(
            tenant=tenant,
            type=AuditEvent.Type.ADDON_CHANGED,
            actor=actor if actor is not None and actor.is_authenticated else None,
            object_repr=f"{spec.display_name} on {application.name}"[:200],
            details=details,
        )
    config.change_details = details  # for the caller's own history line (names only)
    return config


def _messages(form) -> dict[str, list[str]]:
    """The form's errors as ``{field: [messages]}`` (``__all__`` for the form as a whole)."""
    return {field: [str(m) for m in messages] for field, messages in form.errors.items()}


def addon_change_summary(details: dict) -> str:
    """A one-line description of an ``addon_changed`` audit event for admin history (names
    only, never a value)."""
    parts = []
    if details.get("created"):
        parts.append("Created")
    if "enabled" in details:
        parts.append("Enabled" if details["enabled"][1] else "Disabled")
    if details.get("settings"):
        parts.append("Changed " + ", ".join(sorted(details["settings"])))
    replaced = sorted(n for n, what in details.get("secrets", {}).items() if what == "replaced")
    removed = sorted(n for n, what in details.get("secrets", {}).items() if what == "removed")
    if replaced:
        parts.append("Replaced " + ", ".join(replaced))
    if removed:
        parts.append("Removed " + ", ".join(removed))
    return "; ".join(parts) + "." if parts else "No change."
