"""The admin's tenant scoping (``tenantauth.admin_site``), as its users see it.

Who works on which tenant (the active tenant kept in the session, the role per tenant), the
switcher and where it sends the browser, what the index's switcher and recent actions show,
the login form's throttle and its answers, and the refusal of control characters in a query
string. Tenant A's admin is also given memberships in other tenants where a test needs them.
"""

import logging
import re
import types
from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib import admin
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import path, resolve, reverse

from tenantauth import services
from tenantauth.admin_site import SESSION_KEY, TOO_MANY_ATTEMPTS, tenant_context
from tenantauth.models import Membership
from tests.conftest import ADMIN_PASSWORD
from tests.tenantauth.helpers import form_data

SWITCH = "/admin/switch-tenant/"
USERS = "/admin/tenantauth/tenantuser/"
WRONG_LOGIN = (
    "Please enter the correct username and password for a staff account. "
    "Note that both fields may be case-sensitive."
)
NOT_A_MEMBER = "You are not a member of that tenant."


# --- helpers ---------------------------------------------------------------------------------
def switcher(response) -> dict:
    """The switcher as rendered: its options ``(value, label, selected)`` and the role shown;
    None when the page has no switcher."""
    html = response.content.decode()
    form = re.search(r'<form id="tenant-switcher".*?</form>', html, re.S)
    if form is None:
        return None
    options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', form.group(0))
    role = re.search(r'<span class="tenant-role">([^<]*)</span>', form.group(0))
    return {
        "options": [(value, label, bool(selected)) for value, selected, label in options],
        "role": role.group(1) if role else None,
    }


def messages_of(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


def emails_listed(client) -> set[str]:
    """The tenant users' e-mails on the user list: what the active tenant lets one read."""
    page = client.get(USERS)
    assert page.status_code == 200
    return set(re.findall(r"user@tenant-[a-z0-9-]+\.example", page.content.decode()))


def login(client, username, password, ip="10.1.0.1", **extra):
    data = {"username": username, "password": password, "next": "/admin/"}
    return client.post("/admin/login/", data, REMOTE_ADDR=ip, **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def form_errors(response) -> list[tuple[str, list[str]]]:
    """The login form's non-field errors as ``(code, messages)``."""
    form = response.context["form"]
    return [(error.code, list(error)) for error in form.errors.as_data().get("__all__", [])]


@pytest.fixture
def tenant_zero(db):
    """A tenant created last whose slug sorts first: switcher and default follow the slug,
    not the creation order."""
    return services.tenant_create(slug="aaa-zero", name="Tenant ZERO")


@pytest.fixture
def admin_client(client, tenant_a):
    client.force_login(tenant_a["admin"])
    return client


def _member(user, tenant, role):
    services.membership_create(tenant=tenant, user=user, role=role)


def _log(user, obj, flag=CHANGE, label=None):
    """A row of the admin's action log, as the admin writes it for a change of ``obj``."""
    return LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(obj),
        object_id=str(obj.pk),
        object_repr=label or f"ENTRY-{type(obj).__name__}-{obj.pk}-{flag}",
        action_flag=flag,
    )


# --- the switcher: members ---------------------------------------------------------------------
def test_member_switches_between_own_tenants_and_sees_only_the_active_ones_data(
    admin_client, tenant_a, tenant_b
):
    _member(tenant_a["admin"], tenant_b["tenant"], Membership.Role.ADMIN)
    assert emails_listed(admin_client) == {"user@tenant-a.example"}  # the first by slug

    index = admin_client.get("/admin/tenantauth/tenantuser/?blocked__exact=0")
    data = form_data(index, "tenant-switcher")
    assert data["next"] == "/admin/tenantauth/tenantuser/?blocked__exact=0"
    data["tenant"] = str(tenant_b["tenant"].pk)
    response = admin_client.post(SWITCH, data)
    assert response.status_code == 302
    assert response["Location"] == "/admin/tenantauth/tenantuser/?blocked__exact=0"
    assert admin_client.session[SESSION_KEY] == tenant_b["tenant"].pk
    assert emails_listed(admin_client) == {"user@tenant-b.example"}

    back = admin_client.post(SWITCH, {"tenant": str(tenant_a["tenant"].pk)}, follow=True)
    assert messages_of(back) == []
    assert admin_client.session[SESSION_KEY] == tenant_a["tenant"].pk
    assert emails_listed(admin_client) == {"user@tenant-a.example"}


def test_member_cannot_switch_to_a_tenant_without_a_membership(admin_client, tenant_a, tenant_b):
    """The answer is an error message; the session and the data read stay tenant A's."""
    response = admin_client.post(SWITCH, {"tenant": str(tenant_b["tenant"].pk)})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert SESSION_KEY not in admin_client.session
    followed = admin_client.get(response["Location"])
    assert messages_of(followed) == [("error", NOT_A_MEMBER)]
    assert emails_listed(admin_client) == {"user@tenant-a.example"}


@pytest.mark.parametrize(
    "posted",
    [{"tenant": ""}, {}, {"tenant": "abc"}, {"tenant": "-1"}, {"tenant": " 1"}, {"tenant": "0"}],
    ids=["empty", "left out", "letters", "negative", "space", "no such tenant"],
)
def test_member_switch_with_a_bad_value_is_refused_with_a_message(admin_client, tenant_a, posted):
    """A member has no "all tenants": an empty or malformed choice is refused like a tenant
    the member is not in (302 with a message, never a 500)."""
    admin_client.post(SWITCH, {"tenant": str(tenant_a["tenant"].pk)})
    response = admin_client.post(SWITCH, posted, follow=True)
    assert response.redirect_chain == [("/admin/", 302)]
    assert messages_of(response) == [("error", NOT_A_MEMBER)]
    assert admin_client.session[SESSION_KEY] == tenant_a["tenant"].pk


def test_a_get_of_the_switcher_changes_nothing_and_goes_to_the_index(admin_client, tenant_a):
    response = admin_client.get(SWITCH, {"tenant": str(tenant_a["tenant"].pk)})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert SESSION_KEY not in admin_client.session


# --- the switcher: platform staff --------------------------------------------------------------
def test_staff_switch_to_one_tenant_and_back_to_all(client, staff_user, tenant_a, tenant_b):
    client.force_login(staff_user)
    both = {"user@tenant-a.example", "user@tenant-b.example"}
    assert emails_listed(client) == both
    # Nothing chosen yet: "all tenants" again is no error (and there is nothing to forget).
    first = client.post(SWITCH, {"tenant": ""}, follow=True)
    assert messages_of(first) == [] and SESSION_KEY not in client.session

    client.post(SWITCH, {"tenant": str(tenant_b["tenant"].pk)})
    assert client.session[SESSION_KEY] == tenant_b["tenant"].pk
    assert emails_listed(client) == {"user@tenant-b.example"}

    back = client.post(SWITCH, {"tenant": ""}, follow=True)
    assert back.redirect_chain == [("/admin/", 302)]
    assert messages_of(back) == []
    assert SESSION_KEY not in client.session
    assert emails_listed(client) == both


def test_staff_switch_without_a_tenant_field_means_all_tenants(client, staff_user, tenant_a):
    client.force_login(staff_user)
    client.post(SWITCH, {"tenant": str(tenant_a["tenant"].pk)})
    response = client.post(SWITCH, {}, follow=True)
    assert messages_of(response) == []
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize("value", ["abc", "999999"])
def test_staff_switch_to_no_tenant_is_refused(client, staff_user, tenant_a, value):
    client.force_login(staff_user)
    client.post(SWITCH, {"tenant": str(tenant_a["tenant"].pk)})
    response = client.post(SWITCH, {"tenant": value}, follow=True)
    assert messages_of(response) == [("error", NOT_A_MEMBER)]
    assert client.session[SESSION_KEY] == tenant_a["tenant"].pk


# --- the switcher: where it sends the browser ----------------------------------------------------
APPS = "/admin/tenantauth/application/"


@pytest.mark.parametrize(
    ("next_url", "secure", "location"),
    [
        (None, False, "/admin/"),
        ("", False, "/admin/"),
        (APPS, False, APPS),
        (f"{APPS}?q=app", False, f"{APPS}?q=app"),
        (f"http://testserver{APPS}", False, f"http://testserver{APPS}"),
        (f"https://testserver{APPS}", True, f"https://testserver{APPS}"),
        (f"http://testserver{APPS}", True, "/admin/"),  # no step down from HTTPS
        ("https://evil.example/admin/", False, "/admin/"),
        ("//evil.example/admin/", False, "/admin/"),
        (f"{APPS}1/change/", False, "/admin/"),  # the old tenant's row: the index instead
        (f"http://testserver{APPS}1/change/", False, "/admin/"),
    ],
)
def test_switch_redirect(admin_client, tenant_a, next_url, secure, location):
    data = {"tenant": str(tenant_a["tenant"].pk)}
    if next_url is not None:
        data["next"] = next_url
    response = admin_client.post(SWITCH, data, secure=secure)
    assert response.status_code == 302
    assert response["Location"] == location
    assert admin_client.session[SESSION_KEY] == tenant_a["tenant"].pk


# --- the active tenant and the role ----------------------------------------------------------
def test_member_switcher_lists_own_tenants_by_slug_with_the_role_in_each(
    admin_client, tenant_a, tenant_b, tenant_zero
):
    """Options are the member's tenants (slug order, not creation order); the first is active
    until another is chosen; the role shown is the one in the active tenant."""
    _member(tenant_a["admin"], tenant_zero, Membership.Role.AUDITOR)
    zero, a = str(tenant_zero.pk), str(tenant_a["tenant"].pk)

    shown = switcher(admin_client.get("/admin/"))
    assert shown == {
        "options": [(zero, "aaa-zero", True), (a, "tenant-a", False)],
        "role": "auditor",
    }
    admin_client.post(SWITCH, {"tenant": a})
    shown = switcher(admin_client.get("/admin/"))
    assert shown == {
        "options": [(zero, "aaa-zero", False), (a, "tenant-a", True)],
        "role": "admin",
    }


def test_staff_switcher_lists_every_tenant_by_slug_and_all_tenants(
    client, staff_user, tenant_a, tenant_b, tenant_zero
):
    client.force_login(staff_user)
    ids = [str(tenant_zero.pk), str(tenant_a["tenant"].pk), str(tenant_b["tenant"].pk)]
    slugs = ["aaa-zero", "tenant-a", "tenant-b"]
    shown = switcher(client.get("/admin/"))
    assert shown == {
        "options": [("", "All tenants", False)]
        + [(pk, slug, False) for pk, slug in zip(ids, slugs, strict=True)],
        "role": "platform staff",
    }
    client.post(SWITCH, {"tenant": ids[2]})
    shown = switcher(client.get("/admin/"))
    assert [option for option in shown["options"] if option[2]] == [(ids[2], "tenant-b", True)]
    assert shown["role"] == "platform staff"


def test_auditor_sees_the_auditor_role(client, tenant_a):
    client.force_login(tenant_a["auditor"])
    shown = switcher(client.get("/admin/"))
    assert shown == {"options": [(str(tenant_a["tenant"].pk), "tenant-a", True)], "role": "auditor"}


@pytest.mark.parametrize("who", ["non-staff member", "staff without membership"])
def test_login_page_of_an_account_without_admin_access_shows_no_switcher(client, tenant_a, who):
    """Signed in elsewhere but without the admin: the login page names no tenant."""
    User = get_user_model()
    if who == "non-staff member":
        account = User.objects.create_user("member-not-staff", password=ADMIN_PASSWORD)
        _member(account, tenant_a["tenant"], Membership.Role.ADMIN)
    else:
        account = User.objects.create_user("staff-no-member", password=ADMIN_PASSWORD)
        account.is_staff = True
        account.save()
    client.force_login(account)
    page = client.get("/admin/login/")
    assert page.status_code == 200
    assert switcher(page) is None
    assert "tenant-a" not in page.content.decode()
    assert client.get("/admin/")["Location"].startswith("/admin/login/")


def _request(user, wanted=None):
    request = RequestFactory().get("/admin/")
    request.user = user
    request.session = SessionStore()
    if wanted is not None:
        request.session[SESSION_KEY] = wanted
    return request


@pytest.mark.parametrize(
    ("is_active", "is_staff", "is_superuser"),
    [(True, False, True), (False, True, True), (False, True, False), (True, False, False)],
    ids=["superuser not staff", "inactive superuser", "inactive staff", "active non-staff"],
)
def test_tenant_context_gives_no_tenant_and_no_role_without_an_active_staff_account(
    tenant_a, is_active, is_staff, is_superuser
):
    """Platform staff is an active staff superuser; a role needs an active staff account."""
    user = tenant_a["admin"]
    user.is_active, user.is_staff, user.is_superuser = is_active, is_staff, is_superuser
    user.save()
    ctx = tenant_context(_request(user, wanted=tenant_a["tenant"].pk))
    assert (ctx.tenant, ctx.role, ctx.is_platform_staff, ctx.can_read) == (None, None, False, False)


def test_tenant_context_of_a_member_and_of_staff(tenant_a, tenant_b, staff_user):
    _member(tenant_a["admin"], tenant_b["tenant"], Membership.Role.AUDITOR)
    member = tenant_context(_request(tenant_a["admin"], wanted=tenant_b["tenant"].pk))
    assert (member.tenant, member.role, member.is_platform_staff) == (
        tenant_b["tenant"],
        "auditor",
        False,
    )
    staff = tenant_context(_request(staff_user, wanted=tenant_b["tenant"].pk))
    assert (staff.tenant, staff.role, staff.is_platform_staff) == (tenant_b["tenant"], None, True)
    everything = tenant_context(_request(staff_user))
    assert (everything.tenant, everything.is_platform_staff, everything.can_read) == (
        None,
        True,
        True,
    )


def test_the_role_is_resolved_once_per_page(admin_client, tenant_a):
    """Every scoped admin call asks ``tenant_context``; the membership is read once a request."""
    admin_client.get("/admin/")  # session and content types warmed up
    with CaptureQueriesContext(connection) as queries:
        assert admin_client.get(USERS).status_code == 200
    role_reads = [q["sql"] for q in queries if '"tenantauth_membership"."role"' in q["sql"]]
    assert len(role_reads) == 1, role_reads


# --- recent actions on the index -------------------------------------------------------------
def _recent(response) -> dict[str, str | None]:
    return {entry.object_repr: url for entry, url in response.context["recent_actions"]}


def test_recent_actions_link_only_to_rows_of_the_active_tenant_the_reader_may_open(
    admin_client, tenant_a, tenant_b
):
    admin = tenant_a["admin"]
    _member(admin, tenant_b["tenant"], Membership.Role.ADMIN)
    a_app, b_app = tenant_a["appA"], tenant_b["appA"]
    own = _log(admin, a_app)
    other_tenant = _log(admin, b_app)
    deleted = _log(admin, tenant_a["appB"], DELETION)
    unregistered = _log(admin, ContentType.objects.get_for_model(LogEntry), ADDITION)
    no_type = LogEntry.objects.create(
        user=admin, object_id="1", object_repr="ENTRY-NO-TYPE", action_flag=CHANGE
    )
    _log(tenant_a["auditor"], a_app, label="ENTRY-OF-ANOTHER")  # somebody else's: not listed

    admin_client.post(SWITCH, {"tenant": str(tenant_a["tenant"].pk)})
    page = admin_client.get("/admin/")
    a_url = f"/admin/tenantauth/application/{a_app.pk}/change/"
    assert _recent(page) == {
        own.object_repr: a_url,
        other_tenant.object_repr: None,
        deleted.object_repr: None,
        unregistered.object_repr: None,
        no_type.object_repr: None,
    }
    html = page.content.decode()
    assert f'<a href="{a_url}">{own.object_repr}</a>' in html
    assert "ENTRY-OF-ANOTHER" not in html
    assert "Unknown content" in html  # the entry whose content type is gone
    assert f"/admin/tenantauth/application/{b_app.pk}/change/" not in html

    admin_client.post(SWITCH, {"tenant": str(tenant_b["tenant"].pk)})
    links = _recent(admin_client.get("/admin/"))
    assert links[other_tenant.object_repr] == f"/admin/tenantauth/application/{b_app.pk}/change/"
    assert links[own.object_repr] is None


def test_recent_actions_do_not_link_to_pages_the_role_cannot_open(client, tenant_a):
    """An auditor (here: a former admin) keeps the entries but gets no link to applications."""
    auditor = tenant_a["auditor"]
    entry = _log(auditor, tenant_a["appA"])
    client.force_login(auditor)
    page = client.get("/admin/")
    assert _recent(page) == {entry.object_repr: None}
    assert entry.object_repr in page.content.decode()
    assert "None available" not in page.content.decode()


def test_index_without_actions_says_none_available(admin_client):
    page = admin_client.get("/admin/")
    assert page.status_code == 200
    assert _recent(page) == {}
    assert "None available" in page.content.decode()


# --- the login form: throttle and answers ------------------------------------------------------
@pytest.fixture
def limits(settings):
    settings.LOGIN_THROTTLE_USER_IP = 2
    settings.LOGIN_THROTTLE_USER = 3
    settings.LOGIN_THROTTLE_IP = 100
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 900
    return settings


NOW = datetime(2026, 3, 2, 10, 5, 0, tzinfo=UTC)  # 300 s into a 900 s window


def test_wrong_passwords_lock_the_account_at_that_address_with_429(client, tenant_a, limits):
    name = tenant_a["admin"].username
    with time_machine.travel(NOW, tick=False):
        for _ in range(2):
            wrong = login(client, name, "wrong-password")
            assert wrong.status_code == 200
            assert form_errors(wrong) == [("invalid_login", [WRONG_LOGIN])]
        refused = login(client, name, ADMIN_PASSWORD)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "600"
    assert form_errors(refused) == [("throttled", [TOO_MANY_ATTEMPTS])]
    assert TOO_MANY_ATTEMPTS in refused.content.decode()
    assert not signed_in(client)

    # The same account from another address is not locked (its own limit is 3).
    with time_machine.travel(NOW, tick=False):
        elsewhere = login(client, name, ADMIN_PASSWORD, ip="10.1.0.2")
        assert elsewhere.status_code == 302 and elsewhere["Location"] == "/admin/"
        assert signed_in(client)


def test_a_successful_login_forgets_the_failures_at_that_address(client, tenant_a, limits):
    limits.LOGIN_THROTTLE_USER = 50
    name = tenant_a["admin"].username
    assert login(client, name, "wrong-password").status_code == 200
    assert login(client, name, ADMIN_PASSWORD).status_code == 302
    client.logout()
    assert login(client, name, "wrong-password").status_code == 200
    assert login(client, name, ADMIN_PASSWORD).status_code == 302  # 1 failure since, not 2


@pytest.mark.parametrize("field", ["username", "password"])
def test_control_characters_are_refused_without_counting_an_attempt(
    client, tenant_a, limits, field
):
    name = tenant_a["admin"].username
    for _ in range(3):
        values = {"username": name, "password": ADMIN_PASSWORD}
        values[field] += "\x07"
        refused = login(client, values["username"], values["password"])
        assert refused.status_code == 200
        assert form_errors(refused) == [("invalid_login", [WRONG_LOGIN])]
    limits.LOGIN_THROTTLE_IP = 3  # three uncounted attempts leave the address its full limit
    assert login(client, name, ADMIN_PASSWORD).status_code == 302


def test_a_locked_account_still_gets_the_missing_password_answer(client, tenant_a, limits):
    """Nothing is checked without a password: the form says what is missing, no 429."""
    name = tenant_a["admin"].username
    for _ in range(2):
        login(client, name, "wrong-password")
    assert login(client, name, ADMIN_PASSWORD).status_code == 429
    empty = login(client, name, "")
    assert empty.status_code == 200
    assert empty.context["form"].errors["password"] == ["This field is required."]
    assert form_errors(empty) == []


@pytest.mark.parametrize("who", ["staff without membership", "non-staff member"])
def test_an_account_without_admin_access_gets_the_wrong_password_answer(client, tenant_a, who):
    """Its right password gets exactly what a wrong password gets: the form reveals nothing."""
    User = get_user_model()
    account = User.objects.create_user("outsider", password=ADMIN_PASSWORD)
    if who == "staff without membership":
        account.is_staff = True
        account.save()
    else:
        _member(account, tenant_a["tenant"], Membership.Role.ADMIN)
    outsider = login(client, "outsider", ADMIN_PASSWORD)
    wrong = login(client, tenant_a["admin"].username, "wrong-password", ip="10.1.0.9")
    assert outsider.status_code == wrong.status_code == 200
    assert form_errors(outsider) == form_errors(wrong) == [("invalid_login", [WRONG_LOGIN])]
    assert WRONG_LOGIN in outsider.content.decode()
    assert not signed_in(client)


def test_login_with_the_throttle_store_unreachable_is_503(client, tenant_a, settings, caplog):
    """Credentials are never checked unthrottled: the page itself answers 503 with the
    breaker's cool-off as Retry-After (no 500 and no traceback in the log)."""
    settings.CACHE_BREAKER_COOLOFF_SECONDS = 7
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = login(client, tenant_a["admin"].username, ADMIN_PASSWORD)
    assert response.status_code == 503
    assert response["Retry-After"] == "7"
    assert not signed_in(client)
    logged = [r for r in caplog.records if r.name == "django.request"]
    assert [r.getMessage() for r in logged] == ["Service Unavailable: /admin/login/"]
    assert all(r.exc_info is None for r in logged)


def test_login_passes_the_callers_extra_context_to_the_page(db):
    """``login`` keeps ``AdminSite.login``'s ``extra_context``."""
    request = RequestFactory().get("/admin/login/")
    request.user = AnonymousUser()
    request.session = SessionStore()
    response = admin.site.login(request, extra_context={"title": "Sign in to EXTRA-TITLE"})
    response.render()
    assert response.status_code == 200
    assert "<title>Sign in to EXTRA-TITLE |" in response.content.decode()


# --- URLs built here: the switcher's route and every admin view's wrapper ---------------------
@pytest.fixture
def urls_built_here(settings):
    """The project's URL map with the admin's part built in this test (``admin.site.urls``
    calls ``get_urls`` and ``admin_view`` again) rather than the one built at start-up."""
    from tenantauth import urls

    built = types.ModuleType("tests_admin_urls_built_here")
    built.urlpatterns = [
        path("admin/", admin.site.urls) if str(p.pattern) == "admin/" else p
        for p in urls.urlpatterns
    ]
    built.handler500 = urls.handler500
    settings.ROOT_URLCONF = built
    return built


def test_the_switcher_route(urls_built_here, admin_client, tenant_a):
    assert reverse("admin:switch_tenant") == SWITCH
    match = resolve(SWITCH)
    assert match.view_name == "admin:switch_tenant"
    assert match.func.__name__ == "switch_tenant"  # what error reports name the view by
    response = admin_client.post(SWITCH, {"tenant": str(tenant_a["tenant"].pk), "next": USERS})
    assert response.status_code == 302 and response["Location"] == USERS
    assert admin_client.session[SESSION_KEY] == tenant_a["tenant"].pk
    assert switcher(admin_client.get("/admin/"))["role"] == "admin"


@pytest.mark.parametrize(
    "url", ["/admin/?q=%07", f"{USERS}?q=ada%00", f"{USERS}?q%1b=ada", f"{APPS}?q=a%0Ab"]
)
def test_control_characters_in_a_query_string_are_400(
    urls_built_here, admin_client, tenant_a, caplog, url
):
    assert admin_client.get(url.split("?")[0], {"q": "ada"}).status_code == 200
    with caplog.at_level(logging.ERROR, logger="django.security"):
        response = admin_client.get(url)
    assert response.status_code == 400
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("django.security")]
    assert lines == ["Control characters in the query string"]


def test_admin_pages_with_arguments_answer_through_the_wrapper(
    urls_built_here, admin_client, tenant_a
):
    user = tenant_a["user"]
    change = admin_client.get(f"{USERS}{user.pk}/change/")
    assert change.status_code == 200
    assert user.email in change.content.decode()
    assert admin_client.get(f"{USERS}{user.pk}/history/").status_code == 200


def test_admin_pages_are_never_cached_but_the_javascript_catalog_may_be(
    urls_built_here, admin_client
):
    for url in ("/admin/", USERS, f"{USERS}add/"):
        cache_control = admin_client.get(url)["Cache-Control"]
        assert "no-store" in cache_control and "private" in cache_control, url
    catalog = admin_client.get("/admin/jsi18n/")
    assert catalog.status_code == 200
    assert "no-store" not in catalog.get("Cache-Control", "")
