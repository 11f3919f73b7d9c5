"""The admin walk (issue 14): every page of every model registered in the admin, for every
role, answers as ``tenantauth.roles`` says and never with a 5xx.

The cases are read from the admin site's registry when the tests are collected, so a model
registered later is walked too (and ``test_every_registered_model_is_walked`` fails until it
has a row here). For each model and each of admin, auditor, platform staff and an account
without a role: the list, the add page, a row's change page, its delete and history pages;
and where the role may add or change, the add and change forms are submitted with valid data
(the form's own initial values plus a few fixture values) and must save.
"""

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.forms import MultiWidget

from addons.models import AddonConfiguration
from delegation.models import AuditEvent
from tenantauth import roles
from tenantauth.models import Connection, Membership, SigningKey
from tests.conftest import ADMIN_PASSWORD

NON_MEMBER = "non-member"
WHO = [roles.ADMIN, roles.AUDITOR, roles.STAFF, NON_MEMBER]
MODELS = sorted(model._meta.label_lower for model in admin.site._registry)

# Values an add form needs beyond its initial values (a fresh, valid row of each model).
ADD_VALUES = {
    "tenantauth.tenant": lambda setup, n: {"slug": f"walk-{n}", "name": f"Walk {n}"},
    "tenantauth.membership": lambda setup, n: {
        "username": f"walk-member-{n}",
        "role": "auditor",
        "password1": ADMIN_PASSWORD,
        "password2": ADMIN_PASSWORD,
    },
    "tenantauth.application": lambda setup, n: {"name": f"walk-app-{n}"},
    "tenantauth.connection": lambda setup, n: {
        "name": f"walk-connection-{n}",
        "tenant": setup["tenant"].pk,  # platform staff pick it; a tenant admin has no field
    },
    "tenantauth.tenantuser": lambda setup, n: {
        "email": f"walk-{n}@tenant-a.example",
        "password": "a walk through the admin 1",
    },
    "tenantauth.signingkey": lambda setup, n: {},
    "auth.user": lambda setup, n: {
        "username": f"walk-user-{n}",
        "password1": ADMIN_PASSWORD,
        "password2": ADMIN_PASSWORD,
    },
    "auth.group": lambda setup, n: {"name": f"walk-group-{n}"},
    "delegation.auditevent": lambda setup, n: {},
    # The add page chooses an application and an add-on (a GET form), then configures it.
    "addons.addonconfiguration": lambda setup, n: {
        "application": setup["appB"].pk,
        "addon": "wams",
        "enabled": "on",
        "master_key": "walk-" + "m" * 40,
    },
}


# Values a change form needs beyond the row's own: secrets are never shown again, so a
# configuration without its secret is saved with one typed in.
CHANGE_VALUES = {"addons.addonconfiguration": {"master_key": "walk-" + "k" * 40}}


def _row(model: str, setup: dict):
    """A row of ``model`` in tenant A (made here when the fixtures have none)."""
    tenant = setup["tenant"]
    if model == "tenantauth.tenant":
        return tenant
    if model == "tenantauth.membership":
        return Membership.objects.get(tenant=tenant, user=setup["auditor"])
    if model == "tenantauth.application":
        return setup["apiC"]
    if model == "tenantauth.connection":
        return Connection.objects.get(tenant=tenant)
    if model == "tenantauth.tenantuser":
        return setup["user"]
    if model == "tenantauth.signingkey":
        return SigningKey.objects.get(tenant=tenant, status="active")
    if model == "auth.user":
        return setup["auditor"]
    if model == "auth.group":
        return Group.objects.create(name="operators")
    if model == "delegation.auditevent":
        return AuditEvent.objects.create(
            tenant=tenant, type=AuditEvent.Type.DELEGATION_FAILURE, error="invalid_grant"
        )
    if model == "addons.addonconfiguration":
        return AddonConfiguration.objects.create(
            tenant=tenant, application=setup["apiC"], addon="wams"
        )
    raise AssertionError(f"the admin walk has no row for {model}: add one to _row")


def _account(who: str, setup: dict, staff_user):
    if who == roles.STAFF:
        return staff_user
    if who == NON_MEMBER:
        return get_user_model().objects.create_user(
            "walk-no-role", password=ADMIN_PASSWORD, is_staff=True
        )
    return setup[who]


def _form_data(response) -> dict:
    """POST data of the admin form on ``response``: every field's current value (initial or
    the row's), as a browser would send it, and each inline formset's management form."""
    data = {}
    adminform = response.context.get("adminform")
    forms = [adminform.form if adminform is not None else response.context["form"]]
    for formset in response.context.get("inline_admin_formsets") or []:
        forms.append(formset.formset.management_form)
        forms.extend(formset.formset.forms)
    for form in forms:
        for bound in form:
            if bound.field.disabled:
                continue
            value = bound.field.prepare_value(bound.value())
            if value is None:
                continue
            widget = bound.field.widget
            if isinstance(widget, MultiWidget):  # e.g. a split date and time
                parts = value if isinstance(value, list) else widget.decompress(value)
                for index, part in enumerate(parts):
                    data[f"{bound.html_name}{widget.widgets_names[index]}"] = str(part)
                continue
            if isinstance(value, bool):
                if value:
                    data[bound.html_name] = "on"
                continue
            if isinstance(value, (list, tuple)):
                data[bound.html_name] = [str(v) for v in value]
                continue
            data[bound.html_name] = str(value)
    return data


def _errors(response) -> str:
    context = getattr(response, "context", None) or {}
    adminform = context.get("adminform")
    form = adminform.form if adminform is not None else context.get("form")
    errors = form.errors if form is not None else {}
    return f"{response.status_code} {dict(errors)}"


def test_every_registered_model_is_walked(tenant_a):
    for model in MODELS:
        assert model in ADD_VALUES, model
        assert _row(model, tenant_a) is not None
        assert model in roles.RIGHTS, model


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("model", MODELS)
def test_admin_walk(client, tenant_a, staff_user, model, who):
    row = _row(model, tenant_a)
    client.force_login(_account(who, tenant_a, staff_user))
    if who == roles.STAFF:  # platform staff work on the tenant chosen in the switcher
        client.post("/admin/switch-tenant/", {"tenant": tenant_a["tenant"].pk})
    app_label, model_name = model.split(".")
    base = f"/admin/{app_label}/{model_name}/"
    pages = {
        "changelist": base,
        "add": f"{base}add/",
        "change": f"{base}{row.pk}/change/",
        "delete": f"{base}{row.pk}/delete/",
        "history": f"{base}{row.pk}/history/",
    }
    answers = {name: client.get(url) for name, url in pages.items()}
    for name, response in answers.items():
        assert response.status_code < 500, (name, response.status_code)
    if who == NON_MEMBER:
        for name, response in answers.items():
            assert response.status_code == 302, name
            assert response["Location"].startswith("/admin/login/"), name
        assert client.post(pages["add"], {}).status_code == 302
        assert client.post(pages["change"], {}).status_code == 302
        return

    may = {action: roles.allowed(who, model, action) for action in roles.ACTIONS}
    readable = may["view"] or may["change"]
    expected = {
        "changelist": 200 if readable else 403,
        "add": 200 if may["add"] else 403,
        "change": 200 if readable else 403,
        "delete": 200 if may["delete"] else 403,
        "history": 200 if readable else 403,
    }
    assert {name: r.status_code for name, r in answers.items()} == expected

    if may["add"]:
        values = ADD_VALUES[model](tenant_a, who)
        add_url, add_page = pages["add"], answers["add"]
        if model == "addons.addonconfiguration":  # choose (GET), then configure
            chosen = client.get(add_url, {"application": values["application"], "addon": "wams"})
            assert chosen.status_code == 302, _errors(chosen)
            add_url = chosen["Location"]
            add_page = client.get(add_url)
        rows = type(row)._default_manager.count()
        saved = client.post(add_url, {**_form_data(add_page), **values})
        # Saved: a redirect, or a page showing what was made (an invited member's one-time
        # password); either way one row more.
        assert saved.status_code in (200, 302), _errors(saved)
        assert type(row)._default_manager.count() == rows + 1, _errors(saved)
    else:
        assert client.post(pages["add"], {}).status_code == 403
    if may["change"]:
        data = {**_form_data(answers["change"]), **CHANGE_VALUES.get(model, {})}
        saved = client.post(pages["change"], data)
        assert saved.status_code == 302, _errors(saved)
    else:
        assert client.post(pages["change"], {}).status_code == 403
