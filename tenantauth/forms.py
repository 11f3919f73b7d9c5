"""Admin forms. List-valued settings are edited as text, one entry per line or comma-separated."""

from urllib.parse import urlsplit

from django import forms
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from tenantauth import services, signing
from tenantauth.models import (
    DEFAULT_CONNECTION,
    GRANT_TYPE_CHOICES,
    Application,
    Connection,
    Membership,
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


def humanize_seconds(seconds: int) -> str:
    """``36000`` -> ``"10 hours"``, ``5400`` -> ``"1 hour 30 minutes"`` (largest two units)."""
    units = [("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)]
    parts = []
    for name, size in units:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts[:2]) or "0 seconds"


RECOMMENDED_MAX_JWT_SECONDS = 3600


class JwtLifetimeInput(forms.NumberInput):
    """Seconds, shown also as a duration, with a warning above one hour.

    The duration and the warning are rendered by the server (so they are there without
    JavaScript); ``admin.js`` keeps them current while the number is edited.
    """

    def render(self, name, value, attrs=None, renderer=None):
        html = super().render(name, value, attrs, renderer)
        try:
            seconds = int(value)
        except (TypeError, ValueError):
            seconds = None
        duration = humanize_seconds(seconds) if seconds and seconds > 0 else ""
        warn = seconds is not None and seconds > RECOMMENDED_MAX_JWT_SECONDS
        field_id = (attrs or {}).get("id", f"id_{name}")
        return format_html(
            '<div class="jwt-lifetime"><div>{} <output class="jwt-duration" id="{}_duration"'
            ' for="{}" data-duration-for="{}" aria-live="polite">{}</output></div>'
            '<p class="jwt-warning" id="{}_warning"{}>Tokens live longer than one hour: a stolen'
            " token stays usable that long. An hour (3600) or less is recommended.</p></div>",
            html,
            field_id,
            field_id,
            field_id,
            f"= {duration}" if duration else "",
            field_id,
            "" if warn else mark_safe(" hidden"),  # noqa: S308 - a constant attribute
        )


class EntryListField(forms.CharField):
    """Entries separated by commas, blanks or new lines (CRLF or LF); order carries no meaning.

    ``has_changed`` compares the entries as a set, so re-entering the same list with other
    line endings, separators or order is no change (no history entry, no audit event).
    """

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def has_changed(self, initial, data):
        return set(services.parse_client_id_list(initial or "")) != set(
            services.parse_client_id_list(data or "")
        )


class ApplicationNameInput(forms.TextInput):
    """A text box whose ``<datalist>`` suggests the tenant's applications: typing a name offers
    its client ID (the option's value) and the other way round."""

    def __init__(self, attrs=None):
        super().__init__(attrs)
        self.options: list[tuple[str, str]] = []  # (client_id, name)

    def render(self, name, value, attrs=None, renderer=None):
        list_id = f"{(attrs or {}).get('id', 'id_' + name)}_options"
        attrs = {**(attrs or {}), "list": list_id, "autocomplete": "off"}
        html = super().render(name, value, attrs, renderer)
        options = format_html_join(
            "", '<option value="{}" label="{}"></option>', ((c, n) for c, n in self.options)
        )
        return format_html('{}<datalist id="{}">{}</datalist>', html, list_id, options)


class ApplicationForm(TenantBoundFormMixin, forms.ModelForm):
    """Settings, Advanced > OAuth and Grant Types of one application.

    ``tenant`` is set by the admin before validation: Allowed APPs / APIs may only name
    applications of that tenant. The list is edited three ways at once, merged on save: a
    checkbox per application (name and client ID), a box taking names or client IDs (with
    suggestions), and a box for pasted client IDs (commas or new lines).
    """

    grant_types = forms.MultipleChoiceField(
        choices=GRANT_TYPE_CHOICES, widget=forms.CheckboxSelectMultiple, required=False
    )
    allowed_clients_picked = forms.MultipleChoiceField(
        label="Allowed APPs / APIs",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Applications of this tenant that may request delegation tokens for this "
        "one. The application itself is always allowed.",
    )
    allowed_clients_add = forms.CharField(
        label="Add by name",
        required=False,
        widget=ApplicationNameInput(attrs={"size": 40}),
        help_text="An application's name or client ID; several separated by commas.",
    )
    allowed_clients_text = EntryListField(
        label="Paste client IDs",
        required=False,
        help_text="Client IDs of this tenant's applications, separated by commas or new lines. "
        "Merged with the applications ticked above.",
    )
    callback_urls_text = EntryListField(
        label="Allowed Callback URLs",
        required=False,
        help_text="Exact redirect URIs, one per line or comma-separated.",
    )
    allowed_logout_urls_text = EntryListField(
        label="Allowed Logout URLs",
        required=False,
        help_text="Where users may be sent after signing out, one per line.",
    )
    allowed_origins_text = EntryListField(
        label="Allowed Web Origins",
        required=False,
        help_text="Origins (scheme://host[:port], no path) whose browser code may call the "
        "token, delegation and userinfo endpoints (CORS) and receive web_message answers, "
        "one per line. The origins of the callback URLs are allowed too.",
    )

    LIST_FIELDS = {
        "callback_urls_text": "callback_urls",
        "allowed_origins_text": "allowed_origins",
        "allowed_logout_urls_text": "allowed_logout_urls",
    }
    ALLOWED_CLIENTS_FIELDS = (
        "allowed_clients_picked",
        "allowed_clients_add",
        "allowed_clients_text",
    )
    # An API is called, never signed in to: it has no callback or logout URLs.
    NOT_FOR_APIS = ("callback_urls_text", "allowed_logout_urls_text")

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
        widgets = {"jwt_lifetime_seconds": JwtLifetimeInput(attrs={"min": 60, "step": 1})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        others = []
        if self.tenant is not None:
            others = list(
                Application.objects.filter(tenant=self.tenant)
                .exclude(pk=instance.pk)
                .order_by("name")
                .values_list("client_id", "name")
            )
        picked = self.fields.get("allowed_clients_picked")
        if picked is not None:
            picked.choices = [(cid, f"{name} ({cid})") for cid, name in others]
        add = self.fields.get("allowed_clients_add")
        if add is not None:
            add.widget.options = others
        stored = list(instance.allowed_clients or []) if instance.pk else []
        # Kept apart: the admin builds its history message after saving (and refreshing) the
        # instance, when the instance already holds the new list.
        self._stored_allowed_clients = set(stored)
        known = {cid for cid, _ in others}
        if picked is not None:
            self.initial.setdefault("allowed_clients_picked", [c for c in stored if c in known])
        if "allowed_clients_text" in self.fields:
            # Entries without a checkbox (the application itself) stay visible as text.
            self.initial.setdefault(
                "allowed_clients_text", _lines([c for c in stored if c not in known])
            )
        for text, field in self.LIST_FIELDS.items():
            if text in self.fields and instance.pk:
                self.initial.setdefault(text, _lines(getattr(instance, field)))
        if instance.pk and instance.app_type == Application.AppType.API:
            for name in self.NOT_FOR_APIS:
                self.fields.pop(name, None)
        algorithm = self.fields.get("jwt_signature_algorithm")
        if algorithm is not None and instance.pk and instance.is_public:
            algorithm.choices = [
                c for c in algorithm.choices if c[0] != Application.SigningAlgorithm.HS256
            ]

    def _autofocus_first_error(self):
        """Focus the first field with an error on load (works without JavaScript)."""
        if not self.is_bound:
            return
        for name in self.fields:
            if self.errors.get(name):
                self.fields[name].widget.attrs["autofocus"] = True
                break

    @property
    def changed_data(self):
        """As Django's, but the three Allowed APPs / APIs inputs count as one field that
        changed only when the merged list holds other entries than the stored one."""
        changed = [n for n in super().changed_data if n not in self.ALLOWED_CLIENTS_FIELDS]
        if self.is_bound and self.is_valid() and "allowed_clients" in self.cleaned_data:
            if set(self.cleaned_data["allowed_clients"]) != self._stored_allowed_clients:
                changed.append("allowed_clients_picked")
        return changed

    def _tenant_apps(self) -> dict[str, str]:
        if self.tenant is None:
            raise ValidationError("Choose a tenant first.")
        return dict(Application.objects.filter(tenant=self.tenant).values_list("client_id", "name"))

    def clean_allowed_clients_text(self):
        ids = services.parse_client_id_list(self.cleaned_data["allowed_clients_text"])
        if self.tenant is None:
            raise ValidationError("Choose a tenant first.")
        return services.validate_allowed_clients(tenant=self.tenant, client_ids=ids)

    def clean_allowed_clients_add(self):
        entries = [e.strip() for e in self.cleaned_data["allowed_clients_add"].split(",")]
        apps = self._tenant_apps()
        by_name = {name: cid for cid, name in apps.items()}
        by_folded_name: dict[str, list[str]] = {}
        for cid, name in apps.items():
            by_folded_name.setdefault(name.casefold(), []).append(cid)
        ids = []
        for entry in filter(None, entries):
            if entry in apps:
                ids.append(entry)
            elif entry in by_name:
                ids.append(by_name[entry])
            elif len(by_folded_name.get(entry.casefold(), [])) == 1:
                ids.append(by_folded_name[entry.casefold()][0])
            else:
                raise ValidationError(
                    "Select a valid choice. No application of this tenant is named %(name)s.",
                    code="invalid_choice",
                    params={"name": entry[:80]},
                )
        return ids

    def clean(self):
        data = super().clean()
        if any(name in self.fields for name in self.ALLOWED_CLIENTS_FIELDS) and not any(
            name in self.errors for name in self.ALLOWED_CLIENTS_FIELDS
        ):
            merged = [
                *data.get("allowed_clients_picked", []),
                *data.get("allowed_clients_add", []),
                *data.get("allowed_clients_text", []),
            ]
            data["allowed_clients"] = list(dict.fromkeys(merged))
        app_type = data.get("app_type")
        if app_type in Application.PUBLIC_TYPES and (
            data.get("jwt_signature_algorithm") == Application.SigningAlgorithm.HS256
        ):
            self.add_error("jwt_signature_algorithm", Application.PUBLIC_CLIENT_HS256)
        if app_type == Application.AppType.API:
            for name in self.NOT_FOR_APIS:
                if data.get(name):
                    self.add_error(
                        name, "An API is never signed in to: it has no callback or logout URLs."
                    )
        return data

    def _post_clean(self):
        super()._post_clean()
        self._autofocus_first_error()

    def _clean_urls(self, name):
        urls = services.parse_client_id_list(self.cleaned_data[name])
        validator = URLValidator(schemes=["http", "https"])
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
        """The cleaned values as service keyword arguments (only fields the form showed)."""
        # This class's own Meta.fields: the admin's form factory replaces Meta with one listing
        # every fieldset entry, including the *_text fields, which are not model fields.
        model_fields = ApplicationForm.Meta.fields
        data = {f: self.cleaned_data[f] for f in model_fields if f in self.cleaned_data}
        if "allowed_clients" in self.cleaned_data:
            data["allowed_clients"] = self.cleaned_data["allowed_clients"]
        for text, field in self.LIST_FIELDS.items():
            if text in self.fields:
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


class DelegationTryItForm(forms.Form):
    """The "try it" panel: a source application, a user, a scope and an api_type.

    The target is the application whose page this is. Every choice is limited to ``tenant``:
    another tenant's application is "Select a valid choice", another tenant's user is unknown.
    """

    source = forms.ModelChoiceField(
        queryset=Application.objects.none(),
        label="Source application",
        help_text="The application calling /delegation (its client_id).",
    )
    user = forms.CharField(
        label="User",
        max_length=254,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
        help_text="E-mail or user_id of one of this tenant's users; typing suggests matches.",
    )
    scope = forms.CharField(
        label="Scope",
        initial="openid",
        required=False,
        max_length=1024,
        help_text="Space-separated, as sent to /delegation (e.g. openid name email).",
    )
    api_type = forms.ChoiceField(label="api_type", required=False)

    def __init__(self, *args, tenant, **kwargs):
        from delegation import minters

        super().__init__(*args, **kwargs)
        self.tenant = tenant
        source = self.fields["source"]
        source.queryset = Application.objects.filter(tenant=tenant).order_by("name")
        source.label_from_instance = lambda app: f"{app.name} ({app.client_id})"
        self.fields["api_type"].choices = [
            ("", "(omitted: the target's first enabled add-on, else app)"),
            *((name, name) for name in (*minters.APP_API_TYPES, *minters.ADDON_API_TYPES)),
        ]

    def clean_user(self):
        value = self.cleaned_data["user"].strip()
        users = TenantUser.objects.filter(tenant=self.tenant)
        found = list(users.filter(user_id=value)[:1]) or list(users.filter(email__iexact=value)[:2])
        if not found:
            raise ValidationError("No user of this tenant has this e-mail or user_id.")
        if len(found) > 1:
            raise ValidationError(
                "Several users (of different connections) have this e-mail: enter the user_id."
            )
        return found[0]

    def clean_scope(self):
        from delegation import minters

        scope = " ".join(self.cleaned_data["scope"].split()) or "openid"
        if minters.scope_values(scope) is None:
            raise ValidationError(
                "/delegation refuses this scope (invalid_scope): it needs openid or "
                "passthrough, and then user attribute names (e.g. openid profile email, "
                "openid name given_name); offline_access and API permissions such as read:all "
                "are not delegated."
            )
        return scope


class MembershipInviteForm(forms.ModelForm):
    """Add an admin or auditor to the tenant: a new platform account, or an existing one."""

    NEW, EXISTING = "new", "existing"
    account = forms.ChoiceField(
        label="Account",
        choices=[
            (NEW, "Create a new platform account (a one-time password is shown once)"),
            (EXISTING, "Attach an existing platform account by username"),
        ],
        initial=NEW,
        widget=forms.RadioSelect,
    )
    username = forms.CharField(label="Username", max_length=150)
    email = forms.EmailField(
        label="E-mail", required=False, help_text="Only for a new account (optional)."
    )

    class Meta:
        model = Membership
        fields = ["role"]

    def clean_username(self):
        from django.contrib.auth import get_user_model

        username = self.cleaned_data["username"].strip()
        field = get_user_model()._meta.get_field("username")
        for validator in field.validators:
            validator(username)
        return username

    def clean(self):
        data = super().clean()
        if "username" in data and "account" in data:
            if getattr(self, "tenant", None) is None:
                raise ValidationError("Choose a tenant in the switcher first.")
            try:
                services.membership_invite_check(
                    tenant=self.tenant,
                    username=data["username"],
                    create_account=data["account"] == self.NEW,
                )
            except services.MembershipError as exc:
                self.add_error("username", exc)
        return data


class MembershipRoleForm(forms.ModelForm):
    """A member's role; the tenant keeps at least one admin."""

    class Meta:
        model = Membership
        fields = ["role"]

    def clean_role(self):
        role = self.cleaned_data["role"]
        stored = Membership.objects.filter(pk=self.instance.pk).first()
        if (
            stored is not None
            and role != Membership.Role.ADMIN
            and services.membership_is_last_admin(membership=stored)
        ):
            raise ValidationError("A tenant keeps at least one admin: add another admin first.")
        return role
