"""The hosted login form."""

from django import forms

from tenantauth.oidc.services import MAX_PASSWORD_CHARS
from tenantauth.text import validate_no_control_characters


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        validators=[validate_no_control_characters],
        widget=forms.EmailInput(
            attrs={"autocomplete": "username", "autofocus": True, "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        strip=False,
        max_length=MAX_PASSWORD_CHARS * 8,  # long enough for any policy, short enough to hash
        validators=[validate_no_control_characters],
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
