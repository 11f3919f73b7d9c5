"""The console's input forms: the GET filter of every list, export and chart, and the token box.

Only the parameters declared here reach the ORM; an undeclared parameter, a repeated one, a
value outside its choices, a malformed date or cursor, or any control character (``%00``
included) makes the form invalid and the view answers 400. Source and target choices are the
tenant's applications, the api_type and error choices fixed tables of the code, so no choice
list is computed from the audit table.
"""

import unicodedata
import zoneinfo
from datetime import UTC, datetime

from django import forms
from django.core.exceptions import ValidationError

from delegation import errors, minters
from delegation.audit.selectors import AuditFilter, Cursor, user_id_resolve
from delegation.models import AuditEvent
from tenantauth.models import Application, Tenant

DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d")
MAX_VALUE_CHARS = 256


def reject_control_characters(value: str) -> None:
    """No control or format characters (NUL, CR, LF, TAB, bidi overrides) in a filter."""
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise ValidationError("Control characters are not allowed.", code="control_character")


def _known_timezone(value: str) -> None:
    if value and value not in zoneinfo.available_timezones():
        raise ValidationError("Unknown time zone.", code="timezone")


def error_code_choices() -> list[tuple[str, str]]:
    codes = sorted({code for _, code, _ in errors.PROBLEMS.values()})
    return [("", "any error")] + [(c, c) for c in codes]


def api_type_choices() -> list[tuple[str, str]]:
    kinds = sorted({minters.canonical_api_type(k) for k in minters.KNOWN_API_TYPES})
    return [("", "any api_type")] + [(k, k) for k in kinds]


class AuditFilterForm(forms.Form):
    """GET parameters of the console list, its export, and its chart data."""

    since = forms.CharField(required=False, max_length=32, label="From")
    until = forms.CharField(required=False, max_length=32, label="To")
    tz = forms.CharField(required=False, max_length=64, validators=[_known_timezone])
    outcome = forms.ChoiceField(
        required=False,
        choices=[("", "any outcome"), ("success", "success (sd)"), ("failure", "failure (fd)")],
    )
    type = forms.ChoiceField(
        required=False, choices=[("", "any event")] + list(AuditEvent.Type.choices), label="Event"
    )
    source = forms.ChoiceField(required=False, choices=())
    target = forms.ChoiceField(required=False, choices=())
    api_type = forms.ChoiceField(required=False, choices=())
    user = forms.CharField(required=False, max_length=MAX_VALUE_CHARS, label="User")
    error = forms.ChoiceField(required=False, choices=(), label="Error")
    older = forms.CharField(required=False, max_length=64)
    newer = forms.CharField(required=False, max_length=64)
    format = forms.ChoiceField(required=False, choices=[("", ""), ("csv", "CSV"), ("jsonl", "")])

    FILTER_FIELDS = ("since", "until", "outcome", "type", "source", "target", "api_type", "user")
    FILTER_FIELDS += ("error",)

    def __init__(self, data, *, tenants: list[Tenant], **kwargs):
        super().__init__(data, **kwargs)
        self.tenants = tenants
        apps = Application.objects.filter(tenant__in=[t.pk for t in tenants]).order_by(
            "tenant__slug", "name"
        )
        several = len(tenants) > 1
        app_choices = [
            (a.client_id, f"{a.tenant.slug}/{a.name}" if several else a.name)
            for a in apps.select_related("tenant")
        ]
        self.fields["source"].choices = [("", "any source")] + app_choices
        self.fields["target"].choices = [("", "any target")] + app_choices
        self.fields["api_type"].choices = api_type_choices()
        self.fields["error"].choices = error_code_choices()
        for field in self.fields.values():
            field.validators.append(reject_control_characters)

    # Declared parameters only, each at most once: checked before field cleaning.
    def full_clean(self):
        super().full_clean()
        if self.data is None or not hasattr(self.data, "lists"):
            return
        for key, values in self.data.lists():
            if key not in self.fields:
                self.add_error(None, ValidationError("Unknown parameter.", code="unknown"))
                break
            if len(values) > 1:
                self.add_error(None, ValidationError("Repeated parameter.", code="repeated"))
                break

    def _zone(self):
        name = self.cleaned_data.get("tz") or "UTC"
        return zoneinfo.ZoneInfo(name)

    def _moment(self, name: str):
        raw = self.cleaned_data.get(name, "")
        if not raw:
            return None
        for fmt in DATETIME_FORMATS:
            try:
                naive = datetime.strptime(raw, fmt)
            except ValueError:
                continue
            try:
                return naive.replace(tzinfo=self._zone()).astimezone(UTC)
            except (OverflowError, ValueError):
                break
        self.add_error(name, ValidationError("Enter a date and time.", code="invalid"))
        return None

    def _cursor(self, name: str):
        raw = self.cleaned_data.get(name, "")
        if not raw:
            return None
        try:
            return Cursor.decode(raw)
        except ValueError:
            self.add_error(name, ValidationError("Invalid page cursor.", code="invalid"))
            return None

    def clean(self):
        cleaned = super().clean()
        if "tz" in self.errors:
            return cleaned
        cleaned["since_at"] = self._moment("since")
        cleaned["until_at"] = self._moment("until")
        cleaned["older_cursor"] = self._cursor("older")
        cleaned["newer_cursor"] = self._cursor("newer")
        if cleaned["older_cursor"] and cleaned["newer_cursor"]:
            raise ValidationError("Give either older or newer, not both.", code="cursor")
        since, until = cleaned["since_at"], cleaned["until_at"]
        if since and until and since >= until:
            self.add_error("until", ValidationError("Must be after From.", code="range"))
        return cleaned

    def audit_filter(self) -> AuditFilter:
        """The validated filter (call only when ``is_valid()``); resolves an e-mail."""
        data = self.cleaned_data
        user = data.get("user", "").strip()
        return AuditFilter(
            since=data.get("since_at"),
            until=data.get("until_at"),
            outcome=data.get("outcome", ""),
            type=data.get("type", ""),
            source=data.get("source", ""),
            target=data.get("target", ""),
            api_type=data.get("api_type", ""),
            user_id=user_id_resolve(tenants=self.tenants, value=user) if user else "",
            error=data.get("error", ""),
        )

    def filter_query(self, **extra) -> str:
        """The filter (no cursor) as a query string, for links and the export."""
        from django.http import QueryDict

        query = QueryDict(mutable=True)
        for name in ("tz", *self.FILTER_FIELDS):
            value = self.cleaned_data.get(name) if hasattr(self, "cleaned_data") else None
            if value:
                query[name] = value
        for name, value in extra.items():
            if value:
                query[name] = value
        return query.urlencode()

    def active_filters(self) -> dict:
        return {
            name: self.cleaned_data.get(name)
            for name in self.FILTER_FIELDS
            if self.cleaned_data.get(name)
        }


class TokenSearchForm(forms.Form):
    """The one box: a pasted credential (JWT, SAS, anything), a ``jti`` or a fingerprint."""

    token = forms.CharField(
        max_length=16_384,
        strip=True,
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "autocomplete": "off",
                "spellcheck": "false",
                "placeholder": "Paste a token, a jti or a SHA-256 fingerprint",
            }
        ),
        label="Token, jti or fingerprint",
    )

    def clean_token(self):
        # A credential never holds a line break: those come from copying a wrapped token.
        value = self.cleaned_data["token"].replace("\r", "").replace("\n", "")
        if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
            raise ValidationError("Control characters are not allowed.", code="control_character")
        return value
