"""One configuration form per add-on, with save-time validation (SPEC section 5).

Each form is a plain ``forms.Form`` so any page can use it (the admin's add-on pages today, the
dashboard's Add-ons tab later) and ``addons.services.addon_configure`` validates through the
very same class. A form has

* ``enabled``: the add-on's on/off switch;
* ``SETTINGS``: the non-secret settings, stored as JSON as cleaned here;
* ``SECRETS``: the secrets. A secret field is never rendered with a value (not even the one
  just submitted when the page comes back with errors); left blank it keeps the stored secret,
  typed anew it replaces it. Its help text says only whether a secret is set.

Validation happens here, at save time: PEM keys parse and are RSA >= 2048 bits, account keys
decode from base64 to the length the service issues, names follow the service's own rules,
lifetimes stay within the service's limits, and required fields are present (a secret counts
as present when it is stored). ``bind`` refuses names a form does not know (a script or API
sending ``storage_acess_key`` gets an error, not a silently ignored value).
"""

import base64
import binascii
import re

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator

from addons import claims
from addons.minters import aws
from tenantauth import outbound, signing, text
from tenantauth.forms import SecretTextarea

_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")


def _secret_input():
    return forms.PasswordInput(
        render_value=False, attrs={"autocomplete": "new-password", "spellcheck": "false"}
    )


def _pem_input():
    return SecretTextarea(attrs={"rows": 6, "autocomplete": "off", "spellcheck": "false"})


def _rsa_private_key(pem: str) -> str:
    try:
        signing.load_rsa_private_pem(pem)
    except ValueError as exc:  # the message never contains key material
        raise ValidationError(str(exc)) from None
    return pem


def _base64_key(value: str, *, length: int, what: str) -> str:
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValidationError(f"The {what} is not valid base64.") from None
    if len(raw) != length:
        raise ValidationError(
            f"The {what} must decode to {length} bytes ({length * 8} bits); this one has "
            f"{len(raw)}."
        )
    return value


class AddonForm(forms.Form):
    """Shared behaviour of the per-add-on forms; see the module docstring."""

    api_type = ""
    SETTINGS: tuple[str, ...] = ()
    SECRETS: tuple[str, ...] = ()

    enabled = forms.BooleanField(
        required=False, label="Enabled", help_text="Issue this add-on's credential."
    )

    def __init__(self, data=None, *, configuration=None, **kwargs):
        self.configuration = configuration
        self.stored_secrets = frozenset(configuration.secret_names if configuration else ())
        initial = kwargs.pop("initial", None) or {}
        if configuration is not None:
            initial = {"enabled": configuration.enabled, **configuration.settings, **initial}
        super().__init__(data, initial=initial, **kwargs)
        self._unknown: list[str] = []
        for name in self.SECRETS:
            field = self.fields[name]
            field.required = False  # required-ness depends on what is stored: see clean()
            state = "set" if name in self.stored_secrets else "not set"
            keep = " Leave blank to keep it." if name in self.stored_secrets else ""
            field.help_text = f"{field.help_text} Currently {state}.{keep}".strip()
            field.widget.attrs["data-secret-state"] = state

    @classmethod
    def bind(cls, *, enabled: bool, settings: dict, secrets: dict, configuration=None):
        """A bound form for values given as Python objects (services, scripts, APIs).

        Names outside ``SETTINGS`` / ``SECRETS`` make the form invalid.
        """
        data = {"enabled": enabled, **settings, **secrets}
        form = cls(data, configuration=configuration)
        form._unknown = sorted(
            {str(k) for k in settings if k not in cls.SETTINGS}
            | {str(k) for k in secrets if k not in cls.SECRETS}
        )
        return form

    def full_clean(self):
        super().full_clean()
        if self._unknown and self.is_bound:
            self.add_error(None, f"Unknown field(s): {', '.join(self._unknown)[:200]}.")

    # --- which secrets the chosen settings need ---------------------------------------------
    def needed_secrets(self, cleaned: dict) -> tuple[str, ...]:
        """The secrets these settings use (all of ``SECRETS`` unless a form says otherwise)."""
        return self.SECRETS

    def clean(self):
        cleaned = super().clean()
        for name in self.needed_secrets(cleaned):
            if not cleaned.get(name) and name not in self.stored_secrets:
                if name not in self.errors:
                    self.add_error(name, "This field is required.")
        return cleaned

    # --- results ------------------------------------------------------------------------------
    def settings_values(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.SETTINGS}

    def typed_secrets(self) -> dict[str, str]:
        """Secrets typed anew (to replace the stored ones), limited to those in use."""
        needed = self.needed_secrets(self.cleaned_data)
        return {name: self.cleaned_data[name] for name in needed if self.cleaned_data.get(name)}

    def kept_secret_names(self) -> tuple[str, ...]:
        return self.needed_secrets(self.cleaned_data)


def _lifetime_field(*, label, default, maximum, unit, help_text):
    return forms.IntegerField(
        label=label,
        initial=default,
        validators=[MinValueValidator(1), MaxValueValidator(maximum)],
        help_text=f"{help_text} In {unit}, 1 to {maximum}.",
    )


# --- Firebase -------------------------------------------------------------------------------------
FIREBASE_CUSTOM_TOKEN = "custom_token"
FIREBASE_LEGACY = "legacy"
FIREBASE_MAX_LIFETIME = 3600  # Firebase refuses custom tokens that live longer than an hour


class FirebaseForm(AddonForm):
    """Firebase: a service-account custom token (SDK v3+) or a legacy secret token (SDK v2)."""

    api_type = "firebase"
    SETTINGS = (
        "token_format",
        "client_email",
        "private_key_id",
        "lifetime_in_seconds",
        "uid_attribute",
        "claims_attributes",
    )
    SECRETS = ("private_key", "secret")

    token_format = forms.ChoiceField(
        label="Token format",
        choices=[
            (FIREBASE_CUSTOM_TOKEN, "Custom token (Firebase SDK v3 and later: service account)"),
            (FIREBASE_LEGACY, "Legacy token (Firebase SDK v2: database secret)"),
        ],
        initial=FIREBASE_CUSTOM_TOKEN,
    )
    client_email = forms.EmailField(
        label="Client email",
        required=False,
        max_length=254,
        help_text="client_email of the service account's JSON key file.",
    )
    private_key_id = forms.RegexField(
        label="Private key id",
        required=False,
        regex=r"^[A-Za-z0-9_-]{1,128}$",
        error_messages={"invalid": "Letters, digits, '-' and '_' only (private_key_id)."},
        help_text="private_key_id of the service account's JSON key file (the token's kid).",
    )
    private_key = forms.CharField(
        label="Private key",
        strip=True,
        widget=_pem_input(),
        help_text="private_key of the service account's JSON key file (PEM, RSA >= 2048 bits).",
    )
    secret = forms.CharField(
        label="Secret",
        strip=True,
        widget=_secret_input(),
        help_text="The Firebase database secret (legacy tokens only; at least 32 characters).",
    )
    lifetime_in_seconds = _lifetime_field(
        label="Lifetime in seconds",
        default=FIREBASE_MAX_LIFETIME,
        maximum=FIREBASE_MAX_LIFETIME,
        unit="seconds",
        help_text="How long the Firebase token is valid.",
    )
    uid_attribute = forms.ChoiceField(
        label="uid attribute",
        choices=claims.IDENTIFIER_CHOICES,
        initial="user_id",
        help_text="The user attribute Firebase sees as uid (1 to 128 characters).",
    )
    claims_attributes = forms.MultipleChoiceField(
        label="Claims",
        choices=claims.CLAIM_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="User attributes copied into the token's claims (the user's attributes that "
        "are empty are left out).",
    )

    def needed_secrets(self, cleaned):
        if cleaned.get("token_format") == FIREBASE_LEGACY:
            return ("secret",)
        return ("private_key",)

    def clean_private_key(self):
        pem = self.cleaned_data["private_key"]
        return _rsa_private_key(pem) if pem else pem

    def clean_secret(self):
        secret = self.cleaned_data["secret"]
        if secret and (len(secret) < 32 or not _PRINTABLE_ASCII.match(secret)):
            raise ValidationError(
                "A Firebase secret is at least 32 printable ASCII characters without spaces."
            )
        return secret

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("token_format") == FIREBASE_CUSTOM_TOKEN:
            for name in ("client_email", "private_key_id"):
                if not cleaned.get(name) and name not in self.errors:
                    self.add_error(name, "This field is required for custom tokens.")
        else:
            # Legacy tokens carry no service account: keep nothing of one.
            cleaned["client_email"] = cleaned["private_key_id"] = ""
        return cleaned


# --- Azure Blob Storage ---------------------------------------------------------------------------
AZURE_MAX_EXPIRATION_MINUTES = 1440
_AZURE_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
# Azure: 3-63 characters, lower-case letters, digits and single hyphens, starting and ending
# with a letter or digit.
AZURE_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$")
AZURE_BLOB_MAX_CHARS = 1024


def azure_blob_name_problem(name: str) -> str | None:
    """Why ``name`` is not a blob name we sign for (None when it is fine).

    Azure allows almost anything up to 1,024 characters; we also refuse what a URL layer would
    rewrite before the request reaches Azure (``.``/``..`` segments, empty segments, a leading
    or trailing ``/``, backslashes), so a signature is always for the blob the client reaches.
    """
    if not name or len(name) > AZURE_BLOB_MAX_CHARS:
        return f"A blob name has 1 to {AZURE_BLOB_MAX_CHARS} characters."
    if "\\" in name or text.has_control_characters(name):
        return "A blob name has no backslash or control character."
    if any(segment in ("", ".", "..") for segment in name.split("/")):
        return "A blob name has no empty, '.' or '..' path segment."
    return None


class AzureBlobForm(AddonForm):
    """Azure Blob Storage: a service SAS for one blob or one container."""

    api_type = "azure_blob"
    SETTINGS = (
        "account_name",
        "container_name",
        "blob_name",
        "expiration",
        "signed_identifier",
        "blob_read",
        "blob_write",
        "blob_delete",
        "container_read",
        "container_write",
        "container_delete",
        "container_list",
        "https_only",
        "allow_blob_name_override",
        "allow_container_name_override",
    )
    SECRETS = ("storage_access_key",)

    account_name = forms.RegexField(
        label="Account name",
        regex=_AZURE_ACCOUNT,
        error_messages={"invalid": "3 to 24 lower-case letters and digits (Azure's rule)."},
    )
    storage_access_key = forms.CharField(
        label="Storage access key",
        strip=True,
        widget=_secret_input(),
        help_text="key1 or key2 of the storage account (base64, 64 bytes).",
    )
    container_name = forms.RegexField(
        label="Container name",
        regex=AZURE_CONTAINER,
        error_messages={
            "invalid": "3 to 63 lower-case letters, digits and single hyphens (Azure's rule)."
        },
    )
    blob_name = forms.CharField(
        label="Blob name",
        required=False,
        strip=False,
        max_length=AZURE_BLOB_MAX_CHARS,
        help_text="Blank: the SAS is for the whole container (sr=c); else for this blob (sr=b).",
    )
    expiration = forms.IntegerField(
        label="Expiration (minutes)",
        initial=5,
        validators=[MinValueValidator(0), MaxValueValidator(AZURE_MAX_EXPIRATION_MINUTES)],
        help_text="How long the SAS is valid, 1 to 1440 minutes. 0 only with a stored access "
        "policy that sets the expiry itself.",
    )
    signed_identifier = forms.RegexField(
        label="Signed identifier",
        required=False,
        regex=r"^[A-Za-z0-9_.-]{1,64}$",
        error_messages={"invalid": "Up to 64 letters, digits, '.', '-' or '_'."},
        help_text="Optional stored access policy of the container (si).",
    )
    blob_read = forms.BooleanField(label="Blob: read", required=False, initial=True)
    blob_write = forms.BooleanField(label="Blob: write", required=False)
    blob_delete = forms.BooleanField(label="Blob: delete", required=False)
    container_read = forms.BooleanField(label="Container: read", required=False, initial=True)
    container_write = forms.BooleanField(label="Container: write", required=False)
    container_delete = forms.BooleanField(label="Container: delete", required=False)
    container_list = forms.BooleanField(label="Container: list", required=False)
    https_only = forms.BooleanField(
        label="HTTPS only",
        required=False,
        initial=True,
        help_text="spr=https. Turn off only for a local emulator reached over http.",
    )
    allow_blob_name_override = forms.BooleanField(
        label="Allow the request's blobName",
        required=False,
        help_text="Callers may name another blob (sr=b) with the blobName parameter.",
    )
    allow_container_name_override = forms.BooleanField(
        label="Allow the request's containerName",
        required=False,
        help_text="Callers may name any container of the account with containerName. Off: "
        "every SAS stays within the configured container.",
    )

    def clean_storage_access_key(self):
        key = self.cleaned_data["storage_access_key"]
        return _base64_key(key, length=64, what="storage access key") if key else key

    def clean_blob_name(self):
        name = self.cleaned_data["blob_name"]
        if name:
            problem = azure_blob_name_problem(name)
            if problem:
                raise ValidationError(problem)
        return name

    def clean(self):
        cleaned = super().clean()
        policy = bool(cleaned.get("signed_identifier"))
        if cleaned.get("expiration") == 0 and not policy:
            self.add_error("expiration", "0 needs a stored access policy (signed identifier).")
        blob_scope = bool(cleaned.get("blob_name")) or cleaned.get("allow_blob_name_override")
        container_scope = not cleaned.get("blob_name")
        blob_perms = any(cleaned.get(f"blob_{p}") for p in ("read", "write", "delete"))
        container_perms = any(
            cleaned.get(f"container_{p}") for p in ("read", "write", "delete", "list")
        )
        if blob_scope and not blob_perms and not policy:
            self.add_error(None, "Choose at least one blob permission (or a stored policy).")
        if container_scope and not container_perms and not policy:
            self.add_error(None, "Choose at least one container permission (or a stored policy).")
        return cleaned


# --- Azure Service Bus ----------------------------------------------------------------------------
_SB_NAMESPACE = re.compile(r"^(?=.{6,50}$)[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]$")
_SB_ENTITY = re.compile(r"^(?=.{1,260}$)[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*$")
_SB_KEY_NAME = re.compile(r"^[A-Za-z0-9._-]{1,256}$")


class AzureServiceBusForm(AddonForm):
    """Azure Service Bus: a SharedAccessSignature for one entity of a namespace."""

    api_type = "azure_sb"
    SETTINGS = ("namespace", "entity_path", "sas_key_name", "expiration")
    SECRETS = ("sas_key",)

    namespace = forms.RegexField(
        label="Namespace",
        regex=_SB_NAMESPACE,
        error_messages={
            "invalid": "6 to 50 letters, digits and hyphens, starting with a letter and not "
            "ending with a hyphen (Azure's rule)."
        },
        help_text="<namespace>.servicebus.windows.net",
    )
    entity_path = forms.RegexField(
        label="Entity path",
        regex=_SB_ENTITY,
        error_messages={"invalid": "A queue or topic path: letters, digits, '.', '-', '_', '/'."},
    )
    sas_key_name = forms.RegexField(
        label="SAS key name",
        regex=_SB_KEY_NAME,
        error_messages={"invalid": "A policy name: letters, digits, '.', '-' and '_'."},
        help_text="The shared access policy (e.g. RootManageSharedAccessKey).",
    )
    sas_key = forms.CharField(
        label="SAS key",
        strip=True,
        widget=_secret_input(),
        help_text="Primary or secondary key of that policy (base64, 32 bytes).",
    )
    expiration = _lifetime_field(
        label="Expiration (minutes)",
        default=5,
        maximum=AZURE_MAX_EXPIRATION_MINUTES,
        unit="minutes",
        help_text="How long the SAS is valid.",
    )

    def clean_sas_key(self):
        key = self.cleaned_data["sas_key"]
        return _base64_key(key, length=32, what="SAS key") if key else key


# --- Layer ----------------------------------------------------------------------------------------
class LayerForm(AddonForm):
    """Layer: an RS256 identity token for Layer's authentication challenge (its nonce)."""

    api_type = "layer"
    SETTINGS = ("provider_id", "key_id", "principal_attribute", "expiration")
    SECRETS = ("private_key",)

    provider_id = forms.RegexField(
        label="Provider ID",
        regex=r"^layer:///providers/[A-Za-z0-9-]{1,64}$",
        error_messages={"invalid": "Layer's provider id: layer:///providers/<id>."},
    )
    key_id = forms.RegexField(
        label="Key ID",
        regex=r"^layer:///keys/[A-Za-z0-9-]{1,64}$",
        error_messages={"invalid": "Layer's key id: layer:///keys/<id>."},
    )
    private_key = forms.CharField(
        label="Private key",
        strip=True,
        widget=_pem_input(),
        help_text="The authentication key's private half (PEM, RSA >= 2048 bits).",
    )
    principal_attribute = forms.ChoiceField(
        label="Principal attribute",
        choices=claims.IDENTIFIER_CHOICES,
        initial="user_id",
        help_text="The user attribute Layer sees as the user (prn).",
    )
    expiration = _lifetime_field(
        label="Expiration (minutes)",
        default=10,
        maximum=AZURE_MAX_EXPIRATION_MINUTES,
        unit="minutes",
        help_text="How long the identity token is valid.",
    )

    def clean_private_key(self):
        pem = self.cleaned_data["private_key"]
        return _rsa_private_key(pem) if pem else pem


# --- Windows Azure Mobile Services ----------------------------------------------------------------
WAMS_MAX_LIFETIME = 30 * 24 * 3600  # Mobile Services' own login tokens lived 30 days


class WamsForm(AddonForm):
    """Windows Azure Mobile Services: a Mobile Services (zumo) JWT keyed with the master key."""

    api_type = "wams"
    SETTINGS = ("uid_attribute", "lifetime_in_seconds")
    SECRETS = ("master_key",)

    master_key = forms.CharField(
        label="Master key",
        strip=True,
        widget=_secret_input(),
        help_text="The mobile service's master key (at least 32 characters).",
    )
    uid_attribute = forms.ChoiceField(
        label="uid attribute",
        choices=claims.IDENTIFIER_CHOICES,
        initial="user_id",
        help_text="The user attribute the mobile service sees as user.userId.",
    )
    lifetime_in_seconds = _lifetime_field(
        label="Lifetime in seconds",
        default=3600,
        maximum=WAMS_MAX_LIFETIME,
        unit="seconds",
        help_text="How long the token is valid.",
    )

    def clean_master_key(self):
        key = self.cleaned_data["master_key"]
        if key and (len(key) < 32 or not _PRINTABLE_ASCII.match(key)):
            raise ValidationError(
                "A master key is at least 32 printable ASCII characters without spaces."
            )
        return key


# --- Add-ons that trade an assertion at a provider's token service ------------------------------
def _provider_url_field(*, label, help_text, required=True, initial=None):
    return forms.URLField(
        label=label,
        required=required,
        initial=initial,
        max_length=2048,
        assume_scheme="https",
        help_text=help_text,
    )


def _provider_url(value: str) -> str:
    """The SSRF rule of ``tenantauth.outbound`` at save time: https only and no private,
    loopback or link-local address outside development."""
    if value:
        problem = outbound.url_problem(value)
        if problem:
            raise ValidationError(problem)
    return value


class ArnListField(forms.CharField):
    """ARNs, one per line (or comma-separated), stored as a list; each must match ``regex``."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def __init__(self, *, regex, what, **kwargs):
        super().__init__(required=False, **kwargs)
        self.regex = regex
        self.what = what

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, (list, tuple)) else value

    def to_python(self, value):
        if isinstance(value, (list, tuple)):
            items = [str(item).strip() for item in value]
        else:
            items = re.split(r"[\s,]+", super().to_python(value) or "")
        return list(dict.fromkeys(item for item in items if item))

    def validate(self, value):
        for item in value:
            if not self.regex.match(item):
                raise ValidationError(f"Not {self.what}: one per line.")
        if len(value) > 50:
            raise ValidationError("At most 50 entries.")


SALESFORCE_MAX_LIFETIME = 180


class SalesforceForm(AddonForm):
    """Salesforce: an RFC 7523 JWT bearer assertion signed by the tenant, traded for a token."""

    api_type = "salesforce_api"
    default_host = "https://login.salesforce.com"
    SETTINGS = (
        "consumer_key",
        "principal_attribute",
        "community_url",
        "token_url",
        "lifetime_in_seconds",
    )

    consumer_key = forms.RegexField(
        label="Consumer key",
        regex=r"^[\x21-\x7e]{1,256}$",
        error_messages={"invalid": "The connected app's consumer key (printable characters)."},
        help_text="The connected app's consumer key (the assertion's iss).",
    )
    principal_attribute = forms.ChoiceField(
        label="Principal attribute",
        choices=claims.IDENTIFIER_CHOICES,
        initial="email",
        help_text="The user attribute holding the user's Salesforce username (the assertion's "
        "sub).",
    )
    community_url = _provider_url_field(
        label="Community URL",
        required=False,
        help_text="Experience Cloud site URL (e.g. https://acme.my.site.com/customers): the "
        "assertion's aud. Blank: the login host.",
    )
    token_url = _provider_url_field(
        label="Token URL",
        help_text="Where the assertion is posted (the org's or community's "
        "/services/oauth2/token).",
    )
    lifetime_in_seconds = _lifetime_field(
        label="Assertion lifetime in seconds",
        default=SALESFORCE_MAX_LIFETIME,
        maximum=SALESFORCE_MAX_LIFETIME,
        unit="seconds",
        help_text="How long the assertion is valid (Salesforce allows 3 minutes).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["token_url"].initial = f"{self.default_host}/services/oauth2/token"

    def clean_community_url(self):
        return _provider_url(self.cleaned_data["community_url"])

    def clean_token_url(self):
        return _provider_url(self.cleaned_data["token_url"])


class SalesforceSandboxForm(SalesforceForm):
    api_type = "salesforce_sandbox_api"
    default_host = "https://test.salesforce.com"


class SapForm(AddonForm):
    """SAP: an RFC 7522 SAML 2.0 bearer assertion signed by the tenant, traded for a token."""

    api_type = "sap_api"
    SETTINGS = (
        "client_id",
        "username_attribute",
        "token_endpoint_url",
        "audience",
        "scope",
        "name_id_format",
        "lifetime_in_seconds",
    )
    SECRETS = ("service_password",)

    client_id = forms.RegexField(
        label="Client ID",
        regex=r"^[\x21-\x39\x3b-\x7e]{1,256}$",
        error_messages={"invalid": "SAP's OAuth client id (printable characters, no ':')."},
    )
    service_password = forms.CharField(
        label="Service password",
        strip=True,
        widget=_secret_input(),
        help_text="The OAuth client's password at SAP (HTTP Basic with the client id).",
    )
    username_attribute = forms.ChoiceField(
        label="Username attribute",
        choices=claims.IDENTIFIER_CHOICES,
        initial="email",
        help_text="The user attribute sent as the assertion's NameID.",
    )
    token_endpoint_url = _provider_url_field(
        label="Token endpoint URL",
        help_text="SAP's OAuth token endpoint (also the assertion's Recipient).",
    )
    audience = forms.CharField(
        label="Audience",
        required=False,
        max_length=1024,
        validators=[text.validate_no_control_characters],
        help_text="SAP's SAML service provider name. Blank: the token endpoint URL.",
    )
    scope = forms.RegexField(
        label="Scope",
        required=False,
        regex=r"^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$",
        max_length=1024,
        error_messages={"invalid": "Space-separated scope values (RFC 6749 section 3.3)."},
    )
    name_id_format = forms.ChoiceField(
        label="Name identifier format",
        choices=[
            ("emailAddress", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"),
            ("unspecified", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"),
            ("persistent", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"),
        ],
        initial="emailAddress",
    )
    lifetime_in_seconds = _lifetime_field(
        label="Assertion lifetime in seconds",
        default=300,
        maximum=600,
        unit="seconds",
        help_text="How long the assertion is valid.",
    )

    def clean_token_endpoint_url(self):
        return _provider_url(self.cleaned_data["token_endpoint_url"])


AWS_MIN_SESSION = 900
AWS_MAX_SESSION = 43200


class AwsForm(AddonForm):
    """AWS: a SAML 2.0 Response signed by the tenant, traded at STS AssumeRoleWithSAML."""

    api_type = "aws"
    SETTINGS = (
        "role",
        "principal",
        "lifetime_in_seconds",
        "session_name_attribute",
        "region",
        "sts_endpoint_url",
        "allow_overrides",
        "allowed_roles",
        "allowed_principals",
    )

    role = forms.RegexField(
        label="Role",
        regex=aws.ROLE_ARN,
        error_messages={"invalid": "An IAM role ARN: arn:aws:iam::<account>:role/<name>."},
        help_text="The role to assume (its trust policy names the principal below).",
    )
    principal = forms.RegexField(
        label="Principal",
        regex=aws.PRINCIPAL_ARN,
        error_messages={
            "invalid": "An IAM SAML provider ARN: arn:aws:iam::<account>:saml-provider/<name>."
        },
        help_text="The IAM SAML identity provider holding this tenant's signing certificate.",
    )
    lifetime_in_seconds = forms.IntegerField(
        label="Session duration in seconds",
        initial=3600,
        validators=[MinValueValidator(AWS_MIN_SESSION), MaxValueValidator(AWS_MAX_SESSION)],
        help_text="SessionDuration / DurationSeconds, 900 to 43200 (within the role's maximum).",
    )
    session_name_attribute = forms.ChoiceField(
        label="RoleSessionName attribute",
        choices=claims.IDENTIFIER_CHOICES,
        initial="email",
        help_text="The user attribute used as RoleSessionName (AWS allows 2 to 64 of "
        "letters, digits and +=,.@_-).",
    )
    region = forms.RegexField(
        label="Region",
        regex=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$",
        initial="us-east-1",
        error_messages={"invalid": "An AWS region such as us-east-1."},
    )
    sts_endpoint_url = _provider_url_field(
        label="STS endpoint URL",
        required=False,
        help_text="Blank: AWS's regional endpoint (https://sts.<region>.amazonaws.com).",
    )
    allow_overrides = forms.BooleanField(
        label="Allow the request's role and principal",
        required=False,
        help_text="Callers may name another role / principal with the role and principal "
        "parameters, only from the lists below.",
    )
    allowed_roles = ArnListField(
        label="Roles callers may choose", regex=aws.ROLE_ARN, what="an IAM role ARN"
    )
    allowed_principals = ArnListField(
        label="Principals callers may choose",
        regex=aws.PRINCIPAL_ARN,
        what="an IAM SAML provider ARN",
    )

    def clean_sts_endpoint_url(self):
        return _provider_url(self.cleaned_data["sts_endpoint_url"])
