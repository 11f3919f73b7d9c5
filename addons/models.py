"""Add-on configurations: one row per application and add-on (SPEC section 5).

A row holds what a tenant admin got from the third-party service: non-secret ``settings`` (a
JSON object whose shape each add-on's form defines, see ``addons.registry``) and the secrets
(private keys, account keys, master keys) as *one* Fernet ciphertext of a JSON object, through
the project's ``crypto.encrypt``/``decrypt`` seam. ``secret_names`` lists which secrets are set
(names only) so pages can say "set"/"not set" without decrypting anything.

Rows are written only by ``addons.services.addon_configure``; the delegation endpoint reads
them through ``addons.selectors``.
"""

import json

from django.core.exceptions import ValidationError
from django.db import models

from tenantauth import crypto
from tenantauth.models import Application, Tenant, TenantOwnedModel


class AddonConfiguration(TenantOwnedModel):
    # ``manage.py reencrypt_secrets`` moves these columns to the newest field-encryption key.
    ENCRYPTED_FIELDS = ("secrets_ciphertext",)

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="addon_configurations"
    )
    application = models.ForeignKey(
        Application,
        on_delete=models.CASCADE,
        related_name="addon_configurations",
        help_text="The application (delegation target) this add-on belongs to; same tenant.",
    )
    addon = models.CharField(
        "add-on",
        max_length=32,
        help_text="The add-on's api_type (firebase, azure_blob, azure_sb, layer, wams, ...).",
    )
    enabled = models.BooleanField(
        default=False,
        help_text="When off, /delegation refuses this add-on (invalid_target) whatever the "
        "configuration says.",
    )
    settings = models.JSONField(
        default=dict, blank=True, help_text="Non-secret settings; shape defined by the add-on."
    )
    secrets_ciphertext = models.TextField(
        blank=True,
        editable=False,
        help_text="Fernet ciphertext of a JSON object with the add-on's secrets; never plaintext.",
    )
    secret_names = models.JSONField(
        default=list,
        blank=True,
        editable=False,
        help_text="Names of the secrets that are set (never their values).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "add-on configuration"
        ordering = ["application__name", "addon"]
        constraints = [
            # Also the index of the delegation hot path: (tenant, application) -> its add-ons.
            models.UniqueConstraint(
                fields=["tenant", "application", "addon"], name="addonconfiguration_uniq"
            )
        ]

    def __str__(self):
        from addons import registry

        spec = registry.SPECS.get(self.addon)
        name = spec.display_name if spec else self.addon
        app = self.application.name if self.application_id else "?"
        return f"{name} on {app}"

    def clean(self):
        # A13: the model layer refuses a row pointing at another tenant's application, whatever
        # form or script built it (TenantOwnedModel), and an add-on nobody registered.
        super().clean()
        from addons import registry

        if self.addon not in registry.SPECS:
            raise ValidationError({"addon": "Select a valid choice. Unknown add-on."})

    def secret_values(self) -> dict[str, str]:
        """The decrypted secrets (``{name: value}``). Call only where they are used."""
        if not self.secrets_ciphertext:
            return {}
        return _decrypted_secrets(self.secrets_ciphertext)


def _decrypted_secrets(ciphertext: str) -> dict[str, str]:
    # A Fernet decrypt plus a JSON parse per delegation is cheap; parsed keys are cached per
    # process in ``addons.keys`` (keyed by the plaintext they came from).
    return json.loads(crypto.decrypt(ciphertext))
