"""Admin forms. List-valued settings are edited as text, one entry per line or comma-separated."""

from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from tenantauth import services, signing
from tenantauth.models import (
    DEFAULT_CONNECTION,
    GRANT_TYPE_CHOICES,
    Application,
    Connection,
    TenantUser,
)
from tenantauth.oidc.cors import origin_of


def _lines(value) -> str:
    return "\n".join(value or [])


class TenantBoundFormMixin:
    """Bind a tenant-owned row to the admin's tenant before validation.

    The ``tenant`` field is never in a tenant admin's form (a posted one is ignored), so Django
    would skip every unique constraint that starts with it and a duplicate would only surface as
    an IntegrityError (a 500) at save time. Setting the tenant first and keeping it in the
    validation turns such duplicates into ordinary form errors.
    """

    tenant = None

    def _post_clean(self):
        if self.tenant is not None and getattr(self.instance, "tenant_id", None) is None:
            self.instance.tenant = self.tenant
        super()._post_clean()

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if getattr(self.instance, "tenant_id", None) is not None:
            exclude.discard("tenant")
        return exclude


class SecretTextarea(forms.Textarea):
    """A textarea for key material that never renders a submitted value back into the page."""

    def get_context(self, name, value, attrs):
        return super().get_context(name, None, attrs)


class ApplicationForm(TenantBoundFormMixin, forms.ModelForm):
    """Settings, Advanced > OAuth and Grant Types of one application.

    ``tenant`` is set by the admin before validation: Allowed APPs / APIs may only name
    applications of that tenant.
    """

    grant_types = forms.MultipleChoiceField(
        choices=GRANT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
    allowed_clients_text = forms.CharField(
        label="Allowed APPs / APIs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Client IDs of this tenant's applications that may request delegation tokens "
        "for this one, separated by commas or new lines. The application itself is always "
        "allowed.",
    )
    callback_urls_text = forms.CharField(
        label="Allowed Callback URLs",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Exact redirect URIs, one per line or comma-separated.",
    )
    allowed_origins_text = forms.CharField(
        label="Allowed Web Origins",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Origins (scheme://host[:port], no path) whose browser code may call the "
        "token, delegation and userinfo endpoints (CORS) and receive web_message answers. "
        "The origins of the callback URLs are allowed too.",
    )
    allowed_logout_urls_text = forms.CharField(
        label="Allowed Logout URLs", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    LIST_FIELDS = {
        "callback_urls_text": "callback_urls",
        "allowed_origins_text": "allowed_origins",
        "allowed_logout_urls_text": "allowed_logout_urls",
    }

    class Meta:
        model = Application
        fields = [
            "name",
            "app_type",
            "is_active",
            "jwt_lifetime_seconds",
            "jwt_signature_algorithm",
            "oidc_conformant",
            "grant_types",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["allowed_clients_text"].initial = _lines(self.instance.allowed_clients)
            for text, field in self.LIST_FIELDS.items():
                self.fields[text].initial = _lines(getattr(self.instance, field))

    def clean_allowed_clients_text(self):
        ids = services.parse_client_id_list(self.cleaned_data["allowed_clients_text"])
        if self.tenant is None:
            raise ValidationError("Choose a tenant first.")
        return services.validate_allowed_clients(tenant=self.tenant, client_ids=ids)

    def _clean_urls(self, name, *, origins=False):
        urls = services.parse_client_id_list(self.cleaned_data[name])
        validator = URLValidator(schemes=["http", "https"] if not origins else ["http", "https"])
        for url in urls:
            try:
                validator(url)
            except ValidationError:
                raise ValidationError(f"Enter valid URLs (not {url[:80]!r}).") from None
        return urls

    def clean_callback_urls_text(self):
        return self._clean_urls("callback_urls_text")

    def clean_allowed_origins_text(self):
        origins = []
        for entry in services.parse_client_id_list(self.cleaned_data["allowed_origins_text"]):
            origin = origin_of(entry)
            parts = urlsplit(entry)
            if (
                origin is None
                or parts.path not in ("", "/")
                or parts.query
                or parts.fragment
                or "@" in parts.netloc
            ):
                raise ValidationError(
                    f"Enter origins such as https://app.example.com (not {entry[:80]!r})."
                )
            origins.append(origin)
        return list(dict.fromkeys(origins))

    def clean_allowed_logout_urls_text(self):
        return self._clean_urls("allowed_logout_urls_text")

    def settings_changes(self) -> dict:
        """The cleaned values as service keyword arguments."""
        # This class's own Meta.fields: the admin's form factory replaces Meta with one listing
        # every fieldset entry, including the *_text fields, which are not model fields.
        model_fields = ApplicationForm.Meta.fields
        data = {f: self.cleaned_data[f] for f in model_fields if f in self.cleaned_data}
        data["allowed_clients"] = self.cleaned_data["allowed_clients_text"]
        for text, field in self.LIST_FIELDS.items():
            data[field] = self.cleaned_data[text]
        return data


class ClientSecretForm(forms.Form):
    """Rotate a client secret: generate one, or set one of at least 256 bits."""

    new_secret = forms.CharField(
        label="New client secret (optional)",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False),
        help_text="Leave blank to generate a random secret (recommended). A secret you enter "
        "must be at least 32 bytes.",
    )

    def clean_new_secret(self):
        secret = self.cleaned_data["new_secret"]
        if secret and len(secret.encode()) < signing.MIN_HS256_SECRET_BYTES:
            raise ValidationError("An HS256 secret must be at least 32 bytes (256 bits).")
        return secret


class SigningKeyImportForm(forms.Form):
    private_key_pem = forms.CharField(
        label="RSA private key (PEM)",
        strip=True,
        widget=SecretTextarea(attrs={"rows": 8, "autocomplete": "off", "spellcheck": "false"}),
        help_text="An unencrypted PKCS#1 or PKCS#8 RSA key of at least 2048 bits.",
    )

    def clean_private_key_pem(self):
        pem = self.cleaned_data["private_key_pem"]
        try:
            signing.load_rsa_private_pem(pem)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        return pem


class TenantUserCreationForm(TenantBoundFormMixin, forms.ModelForm):
    password = forms.CharField(strip=False, widget=forms.PasswordInput)

    def _post_clean(self):
        # New users join the tenant's default connection (as the service does), so the
        # (tenant, connection, email) constraint is checked here rather than failing at save.
        if self.tenant is not None and getattr(self.instance, "connection_id", None) is None:
            self.instance.connection = Connection.objects.filter(
                tenant=self.tenant, name=DEFAULT_CONNECTION
            ).first()
        super()._post_clean()

    def _get_validation_exclusions(self):
        exclude = super()._get_validation_exclusions()
        if getattr(self.instance, "connection_id", None) is not None:
            exclude.discard("connection")
        return exclude

    class Meta:
        model = TenantUser
        fields = ["email", "email_verified", "name", "nickname", "picture", "blocked"]

    picture = forms.URLField(required=False, assume_scheme="https")

    def clean_email(self):
        return self.cleaned_data["email"].strip().lower()

    def clean_password(self):
        password = self.cleaned_data["password"]
        validate_password(password)
        return password


class TenantUserPasswordForm(forms.Form):
    password1 = forms.CharField(label="New password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="Confirm", strip=False, widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("password1") != data.get("password2"):
            raise ValidationError("The two passwords do not match.")
        if data.get("password1"):
            validate_password(data["password1"])
        return data
