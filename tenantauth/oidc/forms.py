"""The hosted login form."""

from django import forms

from tenantauth.oidc.services import MAX_PASSWORD_CHARS


class LoginForm(forms.Form):
    email = forms.EmailField(
        max_length=254,
        widget=forms.EmailInput(
            attrs={"autocomplete": "username", "autofocus": True, "spellcheck": "false"}
        ),
    )
    password = forms.CharField(
        strip=False,
        max_length=MAX_PASSWORD_CHARS * 8,  # long enough for any policy, short enough to hash
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
