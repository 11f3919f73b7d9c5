"""SECURITY-CASES A11: no admin page is an oracle.

Every registered changelist is walked, for every role (tenant admin, auditor, platform staff,
an account with no membership), with lookups the page did not declare: ``__regex`` and
``__startswith`` on every column (``password``, every ciphertext and fingerprint included),
lookups through relations into other models' secrets, the tenant, and control characters.
Each answers 400 (or the role's refusal: 403, or the login page), never a filtered page whose
row count could answer a question. The real pages' own links (filters, date hierarchy,
sorting, search, pagination) keep working.
"""

import re
from html import unescape
from urllib.parse import urlencode

import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from delegation.models import AuditEvent
from tenantauth import roles, services
from tenantauth.admin import (
    TenantScopedModelAdmin,
    admin_page_errors,
    is_sensitive_field,
)
from tenantauth.models import Application, RefreshToken, TenantUser
from tests.conftest import ADMIN_PASSWORD

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label_lower)
PAGES = [model._meta.label_lower for model, _ in REGISTRY]
ROLES = ["admin", "auditor", "staff", "non-member"]


def changelist_url(model) -> str:
    return f"/admin/{model._meta.app_label}/{model._meta.model_name}/"


def undeclared_lookups(model) -> list[tuple[str, str]]:
    """Lookups no page declares: probes of every column, of related secrets, of the tenant."""
    probes = []
    for field in model._meta.concrete_fields:
        probes += [
            (f"{field.name}__regex", "^a"),
            (f"{field.name}__startswith", "a"),
            (f"{field.name}__gt", "0"),
        ]
        if field.is_relation and field.related_model is not None:
            probes.append((f"{field.name}__id__gt", "0"))
            for remote in field.related_model._meta.concrete_fields:
                if is_sensitive_field(remote.name):
                    probes.append((f"{field.name}__{remote.name}__startswith", "p"))
    for relation in model._meta.related_objects:
        for remote in relation.related_model._meta.concrete_fields:
            if is_sensitive_field(remote.name):
                probes.append((f"{relation.name}__{remote.name}__startswith", "a"))
    probes += [
        ("tenant__id", "1"),
        ("tenant__slug__startswith", "t"),
        ("pk__in", "1,2"),
        ("id__gt", "0"),
        ("q", "a\x00b"),
        ("o", "1\x00"),
        ("p", "\x00"),
        ("a\x00b", "1"),
        ("q", "\x1b[31m"),
        ("q", "line\r\nbreak"),
    ]
    return probes


def test_the_walk_covers_the_issue_examples():
    """The probes include the issue's own inputs on the pages that carry those columns."""
    users = dict(undeclared_lookups(get_user_model()))
    apps = dict(undeclared_lookups(Application))
    tenant_users = dict(undeclared_lookups(_model("tenantuser")))
    assert "password__regex" in tenant_users and "password__regex" in users
    assert "client_secret_fingerprint__startswith" in apps
    assert "client_secret_ciphertext__startswith" in apps
    assert "refresh_tokens__token_hash__startswith" in tenant_users


def _model(name):
    return next(model for model, _ in REGISTRY if model._meta.model_name == name)


@pytest.fixture
def audit_rows(tenant_a):
    for kind in ("sd", "fd"):
        AuditEvent.objects.create(
            tenant=tenant_a["tenant"],
            type=kind,
            source_client_id=tenant_a["appA"].client_id,
            target_client_id=tenant_a["apiC"].client_id,
            api_type="app",
            user_id=tenant_a["user"].user_id,
            error="" if kind == "sd" else "invalid_target",
            jti=f"jti-{kind}",
        )


def _login_as(client, who, tenant_a, staff_user):
    if who == "non-member":
        outsider = get_user_model().objects.create_user(
            "outsider", password=ADMIN_PASSWORD, is_staff=True
        )
        client.force_login(outsider)
    else:
        client.force_login(staff_user if who == "staff" else tenant_a[who])


@pytest.mark.parametrize("who", ROLES)
@pytest.mark.parametrize("label", PAGES)
def test_a11_undeclared_lookups_are_refused_on_every_changelist(
    client, tenant_a, tenant_b, staff_user, audit_rows, label, who
):
    """Every probe answers 400, or the role's own refusal (403 without the right to read the
    page, the login page without a membership); never a page that was filtered."""
    Group.objects.create(name="probe-group")
    _login_as(client, who, tenant_a, staff_user)
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    url = changelist_url(model)
    role = None if who == "non-member" else who
    may_read = roles.allowed(role, label, "view")
    plain = client.get(url)
    if who == "non-member":
        assert plain.status_code == 302 and "/admin/login/" in plain["Location"]
    else:
        assert plain.status_code == (200 if may_read else 403)
    for name, value in undeclared_lookups(model):
        response = client.get(url + "?" + urlencode({name: value}))
        control = any(ch in name + value for ch in "\x00\x1b\r\n")
        if control:
            expected = {400}  # refused before anything else, whoever asks
        elif who == "non-member":
            expected = {302}
        else:
            expected = {400} if may_read else {403}
        assert response.status_code in expected, (label, who, name, response.status_code)
        assert response.status_code != 200


@pytest.mark.parametrize("who", ["admin", "auditor"])
def test_a11_password_hash_oracle_of_the_issue_is_closed(client, tenant_a, who):
    """The issue's attack: the row count of ``?password__regex=`` on the users' list would
    answer yes or no about the hash. Both a matching and a non-matching pattern get the same
    400 (an auditor cannot open the list at all)."""
    client.force_login(tenant_a[who])
    url = changelist_url(_model("tenantuser"))
    answers = {
        client.get(url, {"password__regex": pattern}).status_code
        for pattern in (r"^md5\$", r"^pbkdf2_sha256\$1000000\$[a-m]", "^nothing-matches$")
    }
    assert answers == ({400} if who == "admin" else {403})


def _page_links(content: str) -> set[str]:
    """Every query-string link of a changelist: filters, date hierarchy, sorting, pages."""
    return {unescape(href) for href in re.findall(r'href="(\?[^"]*)"', content)}


READABLE = [
    (label, who)
    for label in PAGES
    for who in ("admin", "staff")
    if roles.allowed(who, label, "view")
]


@pytest.mark.parametrize(("label", "who"), READABLE)
def test_a11_the_pages_own_links_still_work(client, tenant_a, staff_user, audit_rows, label, who):
    """Control: every link a changelist offers (declared filters, date hierarchy, column
    sorting, pagination) and a search are answered 200, not refused."""
    _login_as(client, who, tenant_a, staff_user)
    model = next(m for m in admin.site._registry if m._meta.label_lower == label)
    url = changelist_url(model)
    page = client.get(url)
    assert page.status_code == 200
    links = _page_links(page.content.decode())
    if admin.site._registry[model].search_fields:
        links.add("?q=tenant")
    for link in sorted(links):
        response = client.get(url + link)
        assert response.status_code == 200, (label, link, response.status_code)
        if "__year" in link:  # the date hierarchy drills down: month, then day
            for deeper in sorted(_page_links(response.content.decode()) - links):
                if "__month" in deeper:
                    assert client.get(url + deeper).status_code == 200, (label, deeper)


def test_a11_declared_filter_filters(client, tenant_a, audit_rows):
    """A declared filter still narrows the list (the 400s above are not a broken changelist):
    the audit console's own ``type`` filter, and a stock changelist's ``list_filter``."""
    client.force_login(tenant_a["auditor"])
    url = changelist_url(AuditEvent)
    assert client.get(url).content.decode().count('class="audit-row ') == 2
    narrowed = client.get(url, {"type": "fd"})
    assert narrowed.status_code == 200
    assert narrowed.content.decode().count('class="audit-row ') == 1
    client.force_login(tenant_a["admin"])
    services.tenant_user_set_blocked(user=tenant_a["user"], blocked=True)
    users = changelist_url(TenantUser)
    assert client.get(users).context["cl"].result_count == 1
    assert client.get(users, {"blocked__exact": "0"}).context["cl"].result_count == 0


def test_autocomplete_with_control_characters_is_400(client, staff_user, tenant_a):
    """The admin's autocomplete endpoint searches too: a NUL in its term is 400, not a 500."""
    client.force_login(staff_user)
    response = client.get(
        "/admin/autocomplete/",
        {
            "app_label": "tenantauth",
            "model_name": "membership",
            "field_name": "tenant",
            "term": "\x00",
        },
    )
    assert response.status_code == 400


# --- the system check: no page can opt out --------------------------------------------------
def test_every_registered_page_passes_the_admin_checks():
    """The project's own pages obey every rule (derive from the mixin, no overridden guard,
    a row in the roles table, no sensitive column)."""
    assert admin_page_errors() == []
    assert {label for label in PAGES} <= set(roles.RIGHTS)


def test_a_page_that_opts_out_is_an_error():
    """A page on a fresh site that breaks a rule is reported by the check (so a new admin
    added later fails ``manage.py check`` instead of quietly becoming an oracle)."""
    site = AdminSite(name="probe")

    class PlainPage(ModelAdmin):  # not derived from the mixin
        pass

    class SneakyPage(TenantScopedModelAdmin):
        list_filter = ["client_secret_fingerprint"]
        search_fields = ["client_secret_ciphertext", "=token_hash"]

        def lookup_allowed(self, lookup, value, request=None):
            return True

        def has_view_permission(self, request, obj=None):
            return True

    class UnlistedPage(TenantScopedModelAdmin):
        pass

    site.register(Group, PlainPage)
    site.register(Application, SneakyPage)
    site.register(RefreshToken, UnlistedPage)
    errors = admin_page_errors(site)
    ids = sorted(error.id for error in errors)
    assert ids.count("tenantauth.E010") == 1
    assert ids.count("tenantauth.E011") == 2  # lookup_allowed and has_view_permission
    assert ids.count("tenantauth.E012") == 1  # refresh tokens have no row in the roles table
    assert ids.count("tenantauth.E013") == 3  # a filter and two searches on secrets
