"""The admin rows of SECURITY-CASES.md (A01-A10), as tenant A's admin unless said otherwise."""

import logging

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.contrib.auth import get_user_model
from django.test import Client

from delegation.models import AuditEvent
from tenantauth import roles, signing
from tenantauth.models import Application, Connection, Membership, SigningKey, TenantUser
from tests.conftest import ADMIN_PASSWORD
from tests.tenantauth.helpers import form_data, snapshot

ADMIN = "/admin"


# --- fixtures --------------------------------------------------------------------------------
@pytest.fixture
def b_audit(tenant_b):
    return AuditEvent.objects.create(
        tenant=tenant_b["tenant"],
        type=AuditEvent.Type.DELEGATION_SUCCESS,
        source_client_id=tenant_b["appA"].client_id,
        target_client_id=tenant_b["apiC"].client_id,
        user_id=tenant_b["user"].user_id,
        jti="jti-of-tenant-b",
        object_repr="B-AUDIT-MARKER",
    )


@pytest.fixture
def a_audit(tenant_a):
    return AuditEvent.objects.create(
        tenant=tenant_a["tenant"],
        type=AuditEvent.Type.DELEGATION_FAILURE,
        source_client_id=tenant_a["appA"].client_id,
        target_client_id=tenant_a["apiC"].client_id,
        user_id=tenant_a["user"].user_id,
        error="invalid_target",
        reason="A-AUDIT-MARKER",
    )


@pytest.fixture
def b_objects(tenant_b, b_audit):
    """Tenant B's rows by admin model name."""
    tenant = tenant_b["tenant"]
    return {
        "application": tenant_b["apiC"],
        "tenantuser": tenant_b["user"],
        "signingkey": SigningKey.objects.get(tenant=tenant, status=SigningKey.Status.ACTIVE),
        "auditevent": b_audit,
        "tenant": tenant,
        "connection": Connection.objects.get(tenant=tenant),
        "membership": Membership.objects.get(tenant=tenant, user=tenant_b["admin"]),
    }


@pytest.fixture
def b_markers(tenant_b, b_objects):
    """Strings that appear only in tenant B's data."""
    return [
        "tenant-b",
        "Tenant TENANT-B",
        tenant_b["appA"].client_id,
        tenant_b["appB"].client_id,
        tenant_b["apiC"].client_id,
        tenant_b["user"].email,
        tenant_b["user"].user_id,
        b_objects["signingkey"].kid,
        "B-AUDIT-MARKER",
        "jti-of-tenant-b",
    ]


@pytest.fixture
def admin_client(client, tenant_a):
    client.force_login(tenant_a["admin"])
    return client


def url_of(model: str, pk, view: str = "change") -> str:
    app_label = "delegation" if model == "auditevent" else "tenantauth"
    suffix = "" if view == "" else f"{view}/"
    return f"{ADMIN}/{app_label}/{model}/{pk}/{suffix}"


def assert_no_markers(response, markers):
    content = response.content.decode()
    leaked = [m for m in markers if m in content]
    assert not leaked, f"tenant B data in the page: {leaked}"


def b_state(tenant_b, b_objects) -> dict:
    """Everything of tenant B an attack could change."""
    tenant = tenant_b["tenant"]
    return {
        "rows": {name: snapshot(obj) for name, obj in b_objects.items()},
        "apps": sorted(Application.objects.filter(tenant=tenant).values_list("pk", flat=True)),
        "keys": sorted(SigningKey.objects.filter(tenant=tenant).values_list("kid", "status")),
        "users": sorted(TenantUser.objects.filter(tenant=tenant).values_list("pk", "blocked")),
        "audit": AuditEvent.objects.filter(tenant=tenant).count(),
    }


# --- A01: another tenant's rows by URL -------------------------------------------------------
B_MODELS = [
    "application",
    "tenantuser",
    "signingkey",
    "auditevent",
    "tenant",
    "connection",
    "membership",
]


@pytest.mark.parametrize("view", ["change", "delete", "history"])
@pytest.mark.parametrize("model", B_MODELS)
def test_a01_other_tenant_object_pages_show_nothing(
    admin_client, tenant_b, b_objects, b_markers, model, view
):
    """Opening B's row by change/delete/history URL answers like a missing row: no B data."""
    response = admin_client.get(url_of(model, b_objects[model].pk, view))
    assert response.status_code in (302, 403, 404)
    if response.status_code == 302:
        assert response["Location"] in (f"{ADMIN}/", f"{ADMIN}/login/?next=/admin/")
    followed = admin_client.get(url_of(model, b_objects[model].pk, view), follow=True)
    assert_no_markers(followed, b_markers)


@pytest.mark.parametrize("model", B_MODELS)
def test_a01_posting_a_change_to_other_tenant_object_changes_nothing(
    admin_client, tenant_a, tenant_b, b_objects, b_markers, model
):
    """POSTing a change or a delete confirmation for B's row leaves B exactly as it was."""
    before = b_state(tenant_b, b_objects)
    pk = b_objects[model].pk
    payload = {
        "name": "pwned",
        "slug": "pwned",
        "email": "pwned@example.com",
        "blocked": "on",
        "delegation_enabled": "",
        "allowed_clients_text": tenant_a["appA"].client_id,
        "role": "admin",
        "user": tenant_a["admin"].pk,
        "tenant": tenant_a["tenant"].pk,
        "_save": "Save",
    }
    change = admin_client.post(url_of(model, pk), payload, follow=True)
    delete = admin_client.post(url_of(model, pk, "delete"), {"post": "yes"}, follow=True)
    for response in (change, delete):
        assert response.status_code in (200, 403)
        assert_no_markers(response, b_markers)
    assert b_state(tenant_b, b_objects) == before


def _custom_url(name, tenant_b, b_objects):
    return {
        "reveal": url_of("application", tenant_b["apiC"].pk, "secret/reveal"),
        "rotate": url_of("application", tenant_b["apiC"].pk, "secret/rotate"),
        "rotate-key": url_of("tenant", tenant_b["tenant"].pk, "rotate-key"),
        "import-key": url_of("tenant", tenant_b["tenant"].pk, "import-key"),
        "password": url_of("tenantuser", tenant_b["user"].pk, "password"),
    }[name]


@pytest.fixture(scope="module")
def rsa_2048_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return signing.private_key_to_pem(key)


@pytest.fixture(scope="module")
def rsa_1024_pem():
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", ["reveal", "rotate", "rotate-key", "import-key", "password"])
def test_a01_custom_pages_of_other_tenant_refused(
    admin_client, tenant_b, b_objects, b_markers, rsa_2048_pem, name, method
):
    """The secret, key and password pages refuse B's objects (403) and change nothing of B."""
    before = b_state(tenant_b, b_objects)
    secret_before = tenant_b["apiC"].client_secret()
    data = {
        "new_secret": "x" * 40,
        "private_key_pem": rsa_2048_pem,
        "password1": "A-new-password-9876",
        "password2": "A-new-password-9876",
    }
    url = _custom_url(name, tenant_b, b_objects)
    response = admin_client.post(url, data) if method == "post" else admin_client.get(url)
    assert response.status_code in (403, 405)
    assert_no_markers(response, b_markers)
    assert secret_before.encode() not in response.content
    assert b_state(tenant_b, b_objects) == before


@pytest.mark.parametrize(
    "model", ["application", "tenantuser", "signingkey", "auditevent", "connection"]
)
def test_a01_changelist_search_and_filters_stay_in_tenant(admin_client, tenant_b, b_objects, model):
    """Searching or filtering a list for B's values finds nothing: lists are scoped."""
    app_label = "delegation" if model == "auditevent" else "tenantauth"
    queries = [
        {"q": tenant_b["apiC"].client_id},
        {"q": tenant_b["user"].email},
        {"q": "jti-of-tenant-b"},
        {"tenant__id__exact": tenant_b["tenant"].pk},
    ]
    for query in queries:
        response = admin_client.get(f"{ADMIN}/{app_label}/{model}/", query)
        if response.status_code == 200:
            assert response.context["cl"].result_count == 0 or all(
                row.tenant_id != tenant_b["tenant"].pk for row in response.context["cl"].result_list
            )
        else:  # an unknown lookup is refused
            assert response.status_code in (302, 400)


# --- A02: pointing at B's ids in a form ------------------------------------------------------
@pytest.mark.parametrize("foreign", ["b_appA", "b_apiC", "unknown"])
def test_a02_allow_list_entry_of_other_tenant_rejected(admin_client, tenant_a, tenant_b, foreign):
    """Allowed APPs / APIs naming B's client (or any unknown id) is a form error, nothing saved."""
    api_c = tenant_a["apiC"]
    before = snapshot(api_c)
    audit_before = AuditEvent.objects.count()
    foreign_id = {
        "b_appA": tenant_b["appA"].client_id,
        "b_apiC": tenant_b["apiC"].client_id,
        "unknown": "no-such-client-id",
    }[foreign]
    page = admin_client.get(url_of("application", api_c.pk))
    data = form_data(page, "application_form")
    data["allowed_clients_text"] = f"{tenant_a['appA'].client_id}, {foreign_id}"
    data["_save"] = "Save"
    response = admin_client.post(url_of("application", api_c.pk), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert snapshot(api_c) == before
    assert AuditEvent.objects.count() == audit_before


def test_a02_allow_list_of_own_tenant_saved_and_audited(admin_client, tenant_a):
    """Control: the same form with this tenant's ids saves and records allowlist_changed
    (the ticked applications are cleared, so the pasted list is the whole list)."""
    api_c = tenant_a["apiC"]
    page = admin_client.get(url_of("application", api_c.pk))
    data = form_data(page, "application_form")
    data.pop("allowed_clients_picked")
    data["allowed_clients_text"] = tenant_a["appB"].client_id
    data["_save"] = "Save"
    response = admin_client.post(url_of("application", api_c.pk), data)
    assert response.status_code == 302
    api_c.refresh_from_db()
    assert api_c.allowed_clients == [tenant_a["appB"].client_id]
    event = AuditEvent.objects.get(tenant=tenant_a["tenant"], type="allowlist_changed")
    assert event.actor == tenant_a["admin"]


@pytest.mark.parametrize("model", ["application", "connection"])
def test_a02_posted_tenant_ignored_on_add(admin_client, tenant_a, tenant_b, model):
    """A ``tenant=<B>`` field added to an add form is ignored: the row joins tenant A."""
    page = admin_client.get(f"{ADMIN}/tenantauth/{model}/add/")
    data = form_data(page, f"{model}_form")
    data.update(name="Injected-Row", tenant=str(tenant_b["tenant"].pk), _save="Save")
    response = admin_client.post(f"{ADMIN}/tenantauth/{model}/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    row = {"application": Application, "connection": Connection}[model].objects.get(
        name="Injected-Row"
    )
    assert row.tenant_id == tenant_a["tenant"].pk


def test_a02_posted_tenant_ignored_on_change(admin_client, tenant_a, tenant_b):
    """Changing A's user with ``tenant=<B>`` in the POST keeps the user in tenant A."""
    user = tenant_a["user"]
    page = admin_client.get(url_of("tenantuser", user.pk))
    data = form_data(page, "tenantuser_form")
    data.update(name="Renamed", tenant=str(tenant_b["tenant"].pk), _save="Save")
    response = admin_client.post(url_of("tenantuser", user.pk), data)
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.name, user.tenant_id) == ("Renamed", tenant_a["tenant"].pk)


def test_duplicate_application_name_is_a_form_error_not_a_500(admin_client, tenant_a):
    """Unique constraints that start with the tenant are checked by the form."""
    page = admin_client.get(f"{ADMIN}/tenantauth/application/add/")
    data = form_data(page, "application_form")
    data.update(name="appA", _save="Save")
    response = admin_client.post(f"{ADMIN}/tenantauth/application/add/", data)
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert Application.objects.filter(tenant=tenant_a["tenant"], name="appA").count() == 1


# --- A04: admin actions with B's ids ---------------------------------------------------------
def test_a04_block_action_with_other_tenant_ids(admin_client, tenant_a, tenant_b):
    """block_users with A's and B's ids blocks A's user only."""
    response = admin_client.post(
        f"{ADMIN}/tenantauth/tenantuser/",
        {
            "action": "block_users",
            "_selected_action": [tenant_a["user"].pk, tenant_b["user"].pk],
            "index": 0,
        },
    )
    assert response.status_code == 302
    assert TenantUser.objects.get(pk=tenant_a["user"].pk).blocked is True
    assert TenantUser.objects.get(pk=tenant_b["user"].pk).blocked is False


@pytest.mark.parametrize("select_across", [False, True])
def test_a04_delete_action_with_other_tenant_ids(admin_client, tenant_a, tenant_b, select_across):
    """delete_selected with B's ids (or 'select across') deletes only A's rows."""
    data = {
        "action": "delete_selected",
        "_selected_action": [tenant_a["appB"].pk, tenant_b["apiC"].pk, tenant_b["appA"].pk],
        "index": 0,
        "post": "yes",
    }
    if select_across:
        data["select_across"] = "1"
    confirm = admin_client.post(f"{ADMIN}/tenantauth/application/", data)
    assert confirm.status_code == 302
    assert Application.objects.filter(tenant=tenant_b["tenant"]).count() == 3
    remaining_a = Application.objects.filter(tenant=tenant_a["tenant"]).count()
    assert remaining_a == (0 if select_across else 2)


def test_a04_delete_confirmation_lists_no_other_tenant_rows(admin_client, tenant_a, tenant_b):
    """The delete confirmation page (no ``post``) lists only A's selected rows."""
    response = admin_client.post(
        f"{ADMIN}/tenantauth/application/",
        {
            "action": "delete_selected",
            "_selected_action": [tenant_a["appB"].pk, tenant_b["apiC"].pk],
            "index": 0,
        },
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert tenant_a["appB"].client_id in content
    assert tenant_b["apiC"].client_id not in content


# --- A05: the audit log is read-only ---------------------------------------------------------
@pytest.fixture(params=["admin", "auditor", "staff"])
def any_reader(request, client, tenant_a, staff_user):
    user = staff_user if request.param == "staff" else tenant_a[request.param]
    client.force_login(user)
    return client


def test_a05_audit_row_cannot_be_edited_or_deleted(any_reader, a_audit):
    """Admins, auditors and platform staff can read an audit row but never change it."""
    before = snapshot(a_audit)
    page = any_reader.get(url_of("auditevent", a_audit.pk))
    assert page.status_code == 200
    assert "A-AUDIT-MARKER" in page.content.decode()
    assert 'name="_save"' not in page.content.decode()
    assert any_reader.post(url_of("auditevent", a_audit.pk), {"reason": "edited"}).status_code == (
        403
    )
    assert any_reader.get(url_of("auditevent", a_audit.pk, "delete")).status_code == 403
    assert any_reader.post(
        url_of("auditevent", a_audit.pk, "delete"), {"post": "yes"}
    ).status_code == (403)
    assert any_reader.get(f"{ADMIN}/delegation/auditevent/add/").status_code == 403
    assert snapshot(a_audit) == before


def test_a05_no_delete_action_offered(any_reader, a_audit):
    """The audit list offers no delete action, and posting one anyway deletes nothing."""
    page = any_reader.get(f"{ADMIN}/delegation/auditevent/")
    assert page.status_code == 200
    action_form = page.context.get("action_form")
    choices = [value for value, _ in action_form.fields["action"].choices] if action_form else []
    assert "delete_selected" not in choices
    assert "delete_selected" not in page.content.decode()
    any_reader.post(
        f"{ADMIN}/delegation/auditevent/",
        {"action": "delete_selected", "_selected_action": [a_audit.pk], "post": "yes"},
    )
    assert AuditEvent.objects.filter(pk=a_audit.pk).exists()


# --- A06: secrets never shown, except the audited reveal -------------------------------------
def _secret_markers(tenant_a) -> list[str]:
    markers = []
    for name in ("appA", "appB", "apiC"):
        app = Application.objects.get(pk=tenant_a[name].pk)
        markers += [app.client_secret(), app.client_secret_ciphertext]
    for key in SigningKey.objects.filter(tenant=tenant_a["tenant"]):
        pem_lines = key.private_key_pem().splitlines()
        markers += [pem_lines[1], pem_lines[-2], key.private_key_ciphertext]
    return markers + ["PRIVATE KEY-----"]


@pytest.mark.parametrize("who", ["admin", "auditor", "staff"])
def test_a06_secrets_not_in_pages_or_logs(client, tenant_a, staff_user, caplog, who):
    """Lists, change pages and history pages never show a stored secret, key or ciphertext."""
    caplog.set_level(logging.DEBUG)
    admin = Client()
    admin.force_login(tenant_a["admin"])
    api_c = tenant_a["apiC"]
    new_secret = "a-chosen-secret-" + "q" * 32
    # Produce history: a settings change and a rotation through the admin.
    data = form_data(admin.get(url_of("application", api_c.pk)), "application_form")
    data.update(jwt_lifetime_seconds="3600", _save="Save")
    assert admin.post(url_of("application", api_c.pk), data).status_code == 302
    rotated = admin.post(
        url_of("application", api_c.pk, "secret/rotate"), {"new_secret": new_secret}
    )
    assert rotated.status_code == 200 and new_secret in rotated.content.decode()
    admin.post(url_of("tenant", tenant_a["tenant"].pk, "rotate-key"))

    client.force_login(staff_user if who == "staff" else tenant_a[who])
    key = SigningKey.objects.filter(tenant=tenant_a["tenant"]).first()
    event = AuditEvent.objects.filter(tenant=tenant_a["tenant"]).first()
    pages = [
        (f"{ADMIN}/", None),
        (f"{ADMIN}/tenantauth/application/", "tenantauth.application"),
        (f"{ADMIN}/tenantauth/tenant/", "tenantauth.tenant"),
        (f"{ADMIN}/tenantauth/signingkey/", "tenantauth.signingkey"),
        (f"{ADMIN}/tenantauth/tenantuser/", "tenantauth.tenantuser"),
        (f"{ADMIN}/tenantauth/connection/", "tenantauth.connection"),
        (f"{ADMIN}/delegation/auditevent/", "delegation.auditevent"),
        (url_of("application", api_c.pk), "tenantauth.application"),
        (url_of("application", tenant_a["appA"].pk), "tenantauth.application"),
        (url_of("tenant", tenant_a["tenant"].pk), "tenantauth.tenant"),
        (url_of("signingkey", key.pk), "tenantauth.signingkey"),
        (url_of("auditevent", event.pk), "delegation.auditevent"),
        (url_of("application", api_c.pk, "history"), "tenantauth.application"),
        (url_of("tenant", tenant_a["tenant"].pk, "history"), "tenantauth.tenant"),
    ]
    markers = [*_secret_markers(tenant_a), new_secret]
    role = "staff" if who == "staff" else who
    for url, model in pages:
        response = client.get(url)
        readable = model is None or roles.allowed(role, model, "view")
        assert response.status_code == (200 if readable else 403), url
        content = response.content.decode()
        assert not [m for m in markers if m in content], url
    if roles.allowed(role, "tenantauth.application", "view"):
        assert "Rotated the client secret." in client.get(pages[-2][0]).content.decode()
    assert not [m for m in markers if m in caplog.text]


def test_a06_explicit_reveal_shows_secret_once_and_is_audited(admin_client, tenant_a, caplog):
    """POST reveal shows the secret to an admin, uncached, and records secret_revealed."""
    caplog.set_level(logging.DEBUG)
    api_c = tenant_a["apiC"]
    secret = api_c.client_secret()
    url = url_of("application", api_c.pk, "secret/reveal")
    got = admin_client.get(url)  # POST only: a GET goes back to the page, reveals nothing
    assert (got.status_code, got["Location"]) == (302, url_of("application", api_c.pk))
    assert not AuditEvent.objects.filter(type="secret_revealed").exists()

    response = admin_client.post(url)
    assert response.status_code == 200
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.get(type="secret_revealed")
    assert (event.tenant, event.actor) == (tenant_a["tenant"], tenant_a["admin"])
    assert event.details == {"client_id": api_c.client_id}
    assert secret not in str(snapshot(event))
    assert secret not in caplog.text


# --- A07: CSRF -------------------------------------------------------------------------------
def _csrf_posts(tenant_a):
    api_c, user = tenant_a["apiC"], tenant_a["user"]
    return {
        "change": (url_of("application", api_c.pk), {"name": "renamed", "_save": "Save"}),
        "reveal": (url_of("application", api_c.pk, "secret/reveal"), {}),
        "rotate": (url_of("application", api_c.pk, "secret/rotate"), {"new_secret": ""}),
        "rotate-key": (url_of("tenant", tenant_a["tenant"].pk, "rotate-key"), {}),
        "switch": (f"{ADMIN}/switch-tenant/", {"tenant": str(tenant_a["tenant"].pk)}),
        "action": (
            f"{ADMIN}/tenantauth/tenantuser/",
            {"action": "block_users", "_selected_action": [user.pk], "index": 0},
        ),
        "delete": (url_of("application", api_c.pk, "delete"), {"post": "yes"}),
        "password": (
            url_of("tenantuser", user.pk, "password"),
            {"password1": "A-new-password-9876", "password2": "A-new-password-9876"},
        ),
    }


def _a_state(tenant_a):
    tenant = tenant_a["tenant"]
    return {
        "apps": sorted(Application.objects.filter(tenant=tenant).values_list("pk", "name")),
        "secret": snapshot(tenant_a["apiC"])["client_secret_ciphertext"],
        "keys": sorted(SigningKey.objects.filter(tenant=tenant).values_list("kid", "status")),
        "users": sorted(
            TenantUser.objects.filter(tenant=tenant).values_list("blocked", "password")
        ),
        "audit": AuditEvent.objects.filter(tenant=tenant).count(),
    }


@pytest.mark.parametrize(
    "name", ["change", "reveal", "rotate", "rotate-key", "switch", "action", "delete", "password"]
)
def test_a07_state_changing_post_without_csrf_token_refused(tenant_a, name):
    """Every state-changing admin POST without a CSRF token answers 403 and changes nothing."""
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(tenant_a["admin"])
    before = _a_state(tenant_a)
    url, data = _csrf_posts(tenant_a)[name]
    response = csrf_client.post(url, data)
    assert response.status_code == 403
    assert _a_state(tenant_a) == before


def test_a07_post_with_csrf_token_accepted(tenant_a):
    """Control: the same client with the page's CSRF token can reveal (so the 403 is CSRF)."""
    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(tenant_a["admin"])
    page = csrf_client.get(url_of("application", tenant_a["apiC"].pk))
    token = form_data(page, "application_form")["csrfmiddlewaretoken"]
    response = csrf_client.post(
        url_of("application", tenant_a["apiC"].pk, "secret/reveal"),
        {"csrfmiddlewaretoken": token},
    )
    assert response.status_code == 200


# --- A08: framing ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "page", ["login", "index", "changelist", "change", "reveal", "rotate", "switch"]
)
def test_a08_admin_pages_refuse_framing(client, tenant_a, page):
    """Every admin page says X-Frame-Options: DENY and CSP frame-ancestors 'none'."""
    api_c = tenant_a["apiC"]
    if page != "login":
        client.force_login(tenant_a["admin"])
    response = {
        "login": lambda: client.get(f"{ADMIN}/login/"),
        "index": lambda: client.get(f"{ADMIN}/"),
        "changelist": lambda: client.get(f"{ADMIN}/tenantauth/application/"),
        "change": lambda: client.get(url_of("application", api_c.pk)),
        "reveal": lambda: client.post(url_of("application", api_c.pk, "secret/reveal")),
        "rotate": lambda: client.get(url_of("application", api_c.pk, "secret/rotate")),
        "switch": lambda: client.post(f"{ADMIN}/switch-tenant/", {"tenant": "0"}),
    }[page]()
    assert response.status_code in (200, 302)
    assert response["X-Frame-Options"] == "DENY"
    directives = [d.strip() for d in response["Content-Security-Policy"].split(";")]
    assert "frame-ancestors 'none'" in directives


# --- A09: weak or malformed key material -----------------------------------------------------
@pytest.mark.parametrize("length", [1, 16, 31])
def test_a09_short_client_secret_rejected(admin_client, tenant_a, length):
    """Rotating to a secret under 32 bytes is a form error; the old secret stays."""
    api_c = tenant_a["apiC"]
    before = snapshot(api_c)
    response = admin_client.post(
        url_of("application", api_c.pk, "secret/rotate"), {"new_secret": "s" * length}
    )
    assert response.status_code == 200
    assert "at least 32 bytes" in response.content.decode()
    assert f'value="{"s" * length}"' not in response.content.decode()
    assert snapshot(api_c) == before
    assert not AuditEvent.objects.filter(type="secret_rotated").exists()


def test_a09_multibyte_secret_counts_bytes(admin_client, tenant_a):
    """Control: 32 bytes (here 16 two-byte characters) is accepted and audited."""
    api_c = tenant_a["apiC"]
    secret = "é" * 16
    response = admin_client.post(
        url_of("application", api_c.pk, "secret/rotate"), {"new_secret": secret}
    )
    assert response.status_code == 200
    assert Application.objects.get(pk=api_c.pk).client_secret() == secret
    assert AuditEvent.objects.filter(type="secret_rotated").count() == 1


def _bad_key(kind, rsa_1024_pem, rsa_2048_pem):
    if kind == "rsa1024":
        return rsa_1024_pem
    if kind == "truncated":
        return rsa_2048_pem[: len(rsa_2048_pem) // 2]
    if kind == "bad-base64":
        lines = rsa_2048_pem.splitlines()
        return "\n".join([lines[0], "!!!not base64!!!", *lines[2:]])
    if kind == "garbage":
        return "garbage " * 20
    if kind == "ec":
        return (
            ec.generate_private_key(ec.SECP256R1())
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode()
        )
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["rsa1024", "truncated", "bad-base64", "garbage", "ec"])
def test_a09_weak_or_malformed_signing_key_rejected(
    admin_client, tenant_a, rsa_1024_pem, rsa_2048_pem, kind
):
    """Importing a short RSA key, a broken PEM, garbage or a non-RSA key is a form error;
    nothing is saved and the submitted key is not echoed back."""
    tenant = tenant_a["tenant"]
    before = sorted(SigningKey.objects.filter(tenant=tenant).values_list("kid", "status"))
    pem = _bad_key(kind, rsa_1024_pem, rsa_2048_pem)
    response = admin_client.post(
        url_of("tenant", tenant.pk, "import-key"), {"private_key_pem": pem}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert 'class="errorlist' in content
    body_line = pem.strip().splitlines()[1] if "\n" in pem.strip() else pem.strip()
    assert body_line not in content
    assert sorted(SigningKey.objects.filter(tenant=tenant).values_list("kid", "status")) == before
    assert not AuditEvent.objects.filter(type="key_rotated").exists()


def test_a09_valid_signing_key_import(admin_client, tenant_a, rsa_2048_pem):
    """Control: a 2048-bit key imports, becomes the one active key, the old one retires;
    importing it again is a form error."""
    tenant = tenant_a["tenant"]
    old = SigningKey.objects.get(tenant=tenant, status="active")
    url = url_of("tenant", tenant.pk, "import-key")
    response = admin_client.post(url, {"private_key_pem": rsa_2048_pem})
    assert response.status_code == 302
    active = SigningKey.objects.get(tenant=tenant, status="active")
    assert active.private_key_pem().strip() == rsa_2048_pem.strip()
    assert active.kid == signing.jwk_thumbprint(active.public_jwk)
    old.refresh_from_db()
    assert old.status == "retired"
    assert SigningKey.objects.filter(tenant=tenant).count() == 2
    event = AuditEvent.objects.get(type="key_rotated")
    assert event.details["new_kid"] == active.kid and event.details["imported"] is True

    again = admin_client.post(url, {"private_key_pem": rsa_2048_pem})
    assert again.status_code == 200
    assert "already one of the tenant" in again.content.decode()
    assert SigningKey.objects.filter(tenant=tenant).count() == 2


# --- A10: who may enter, who may change ------------------------------------------------------
@pytest.fixture(params=["non-staff member", "staff without membership", "inactive admin"])
def outsider(request, tenant_a):
    User = get_user_model()
    if request.param == "non-staff member":
        user = User.objects.create_user("plain", password=ADMIN_PASSWORD, is_staff=False)
        Membership.objects.create(tenant=tenant_a["tenant"], user=user, role="admin")
    elif request.param == "staff without membership":
        user = User.objects.create_user("lonely", password=ADMIN_PASSWORD, is_staff=True)
    else:
        user = tenant_a["admin"]
        user.is_active = False
        user.save()
    return user


def test_a10_outsiders_get_the_login_page_and_no_data(client, tenant_a, outsider):
    """Non-staff, membership-less and inactive accounts are sent to the login page, see no
    data and cannot change anything."""
    client.force_login(outsider)
    api_c = tenant_a["apiC"]
    before = _a_state(tenant_a)
    gets = [
        f"{ADMIN}/",
        f"{ADMIN}/tenantauth/application/",
        url_of("application", api_c.pk),
        f"{ADMIN}/delegation/auditevent/",
    ]
    for url in gets:
        response = client.get(url)
        assert response.status_code in (302, 403), url
        if response.status_code == 302:
            assert response["Location"].startswith(f"{ADMIN}/login/"), url
        assert api_c.client_id not in response.content.decode()
    for url, data in _csrf_posts(tenant_a).values():
        response = client.post(url, data)
        assert response.status_code in (302, 403)
        if response.status_code == 302:
            assert response["Location"].startswith(f"{ADMIN}/login/"), url
    assert _a_state(tenant_a) == before
    # The password does not get them in either.
    fresh = Client()
    login = fresh.post(
        f"{ADMIN}/login/",
        {"username": outsider.username, "password": ADMIN_PASSWORD, "next": f"{ADMIN}/"},
    )
    assert login.status_code == 200  # the form again, with an error
    assert fresh.get(f"{ADMIN}/").status_code == 302


def test_a10_auditor_reads_the_audit_log_and_nothing_else(client, tenant_a, a_audit):
    """An auditor reads the audit log of its tenant, which names the applications and the user
    beside their IDs; applications, users (personal data), keys, members and tenant settings
    are 403 (tenantauth.roles)."""
    client.force_login(tenant_a["auditor"])
    for url in [f"{ADMIN}/delegation/auditevent/", url_of("auditevent", a_audit.pk)]:
        response = client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        for expected in [
            "invalid_target",
            "appA",
            tenant_a["appA"].client_id,
            "apiC",
            tenant_a["apiC"].client_id,
            tenant_a["user"].email,
            tenant_a["user"].user_id,
        ]:
            assert expected in content, (url, expected)
    assert "A-AUDIT-MARKER" in client.get(url_of("auditevent", a_audit.pk)).content.decode()
    for url in [
        f"{ADMIN}/tenantauth/application/",
        url_of("application", tenant_a["apiC"].pk),
        f"{ADMIN}/tenantauth/tenantuser/",
        url_of("tenantuser", tenant_a["user"].pk),
        f"{ADMIN}/tenantauth/tenant/",
        url_of("tenant", tenant_a["tenant"].pk),
        f"{ADMIN}/tenantauth/signingkey/",
        f"{ADMIN}/tenantauth/membership/",
        f"{ADMIN}/tenantauth/connection/",
    ]:
        response = client.get(url)
        assert response.status_code == 403, url
        assert tenant_a["user"].email not in response.content.decode(), url


@pytest.mark.parametrize(
    "name", ["change", "reveal", "rotate", "rotate-key", "delete", "password", "tenant"]
)
def test_a10_auditor_cannot_change_settings(client, tenant_a, name):
    """An auditor's change, reveal, rotate, key and password POSTs answer 403; nothing moves."""
    client.force_login(tenant_a["auditor"])
    before = _a_state(tenant_a)
    tenant_before = snapshot(tenant_a["tenant"])
    if name == "tenant":
        url = url_of("tenant", tenant_a["tenant"].pk)
        data = {"name": "Renamed", "delegation_rate_limit": "99", "_save": "Save"}
    else:
        url, data = _csrf_posts(tenant_a)[name]
    response = client.post(url, data)
    assert response.status_code == 403
    assert tenant_a["apiC"].client_secret().encode() not in response.content
    assert _a_state(tenant_a) == before
    assert snapshot(tenant_a["tenant"]) == tenant_before


def test_a10_auditor_actions_not_offered(client, tenant_a):
    """Block/unblock and delete actions are not offered to an auditor and do nothing if posted."""
    client.force_login(tenant_a["auditor"])
    page = client.get(f"{ADMIN}/tenantauth/tenantuser/")
    assert "block_users" not in page.content.decode()
    client.post(
        f"{ADMIN}/tenantauth/tenantuser/",
        {"action": "block_users", "_selected_action": [tenant_a["user"].pk], "index": 0},
    )
    assert TenantUser.objects.get(pk=tenant_a["user"].pk).blocked is False


def test_security_setting_change_through_admin_is_audited(admin_client, tenant_a):
    """Changing the signature algorithm in the change form records settings_changed with the
    old and new values (the service sees the stored row, not the already-edited form instance)."""
    api_c = tenant_a["apiC"]
    data = form_data(admin_client.get(url_of("application", api_c.pk)), "application_form")
    data.update(jwt_signature_algorithm="RS256", _save="Save")
    assert admin_client.post(url_of("application", api_c.pk), data).status_code == 302
    event = AuditEvent.objects.get(tenant=tenant_a["tenant"], type="settings_changed")
    assert event.details["changes"] == {"jwt_signature_algorithm": ["HS256", "RS256"]}
    assert event.actor == tenant_a["admin"]
    assert not AuditEvent.objects.filter(type="allowlist_changed").exists()
