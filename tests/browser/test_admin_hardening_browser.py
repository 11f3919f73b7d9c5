"""SECURITY-CASES A14 (admin) and A12/A13 as a person meets them, in Chromium: the admin login
form is throttled (the page says so, with 429), a form posted from another origin is refused by
CSRF while the admin's own forms work, platform staff see a form error when pointing a user at
another tenant's connection, and the declared list filters work when clicked."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from delegation.models import AuditEvent
from tenantauth.models import Application, Connection, TenantUser
from tests.conftest import ADMIN_PASSWORD
from tests.servers import free_port

pytestmark = pytest.mark.browser


def _submit_login(page, base, username, password):
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_response(lambda r: r.url.startswith(f"{base}/admin/login/")) as answer:
        page.click("input[type=submit]")
    return answer.value


def test_admin_login_throttled_in_the_browser(
    live_server, transactional_db, tenant_a, browser_page, settings
):
    """Three wrong passwords, then the login page answers 429 and says to wait, even for the
    right password; nobody is signed in."""
    settings.LOGIN_THROTTLE_USER_IP = 3
    page, base = browser_page, live_server.url
    username = tenant_a["admin"].username
    for _ in range(3):
        answer = _submit_login(page, base, username, "wrong password!")
        assert answer.status == 200
        assert "Please enter the correct username and password" in page.inner_text("body")
    answer = _submit_login(page, base, username, ADMIN_PASSWORD)
    assert answer.status == 429 and int(answer.headers["retry-after"]) > 0
    assert "Too many failed attempts" in page.inner_text(".errornote, .errorlist, body")
    assert page.url.startswith(f"{base}/admin/login/")
    page.goto(f"{base}/admin/")
    assert "/admin/login/" in page.url
    problems = [p for p in page.problems if "429" not in p]
    assert not problems, problems


class _ForeignSite:
    """Another origin (another port on loopback) whose page posts a form to the admin."""

    def __init__(self, target: str, fields: dict):
        inputs = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in fields.items())
        body = (
            f'<!doctype html><form id="f" method="post" action="{target}">{inputs}'
            '<button id="go" type="submit">go</button></form>'
        ).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_csrf_passes_for_the_admins_own_page_and_fails_for_another_origin(
    live_server, transactional_db, tenant_a, browser_page
):
    """Signed in, the admin's own form changes apiC; the same change posted by a page of
    another origin (the session cookie goes along: same site) is 403 and changes nothing."""
    page, base = browser_page, live_server.url
    _submit_login(page, base, tenant_a["admin"].username, ADMIN_PASSWORD)
    api_c = tenant_a["apiC"]
    change = f"{base}/admin/tenantauth/application/{api_c.pk}/change/"
    page.goto(change)
    page.fill("#id_jwt_lifetime_seconds", "3600")
    page.click("input[name=_save]")
    page.wait_for_url(f"{base}/admin/tenantauth/application/")
    assert Application.objects.get(pk=api_c.pk).jwt_lifetime_seconds == 3600

    foreign = _ForeignSite(change, {"name": "pwned", "jwt_lifetime_seconds": "60", "_save": "1"})
    try:
        page.goto(foreign.url)
        with page.expect_response(lambda r: r.url == change) as answer:
            page.click("#go")
        assert answer.value.status == 403
        assert "CSRF verification failed" in page.inner_text("body")
    finally:
        foreign.close()
    stored = Application.objects.get(pk=api_c.pk)
    assert (stored.name, stored.jwt_lifetime_seconds) == ("apiC", 3600)


def test_staff_in_all_tenants_see_a_form_error_for_another_tenants_connection(
    live_server, transactional_db, tenant_a, tenant_b, staff_user, browser_page
):
    page, base = browser_page, live_server.url
    _submit_login(page, base, staff_user.username, ADMIN_PASSWORD)
    user = tenant_a["user"]
    page.goto(f"{base}/admin/tenantauth/tenantuser/{user.pk}/change/")
    b_connection = Connection.objects.get(tenant=tenant_b["tenant"])
    page.select_option("#id_connection", value=str(b_connection.pk))
    page.click("input[name=_save]")
    page.wait_for_load_state()
    assert "another tenant" in page.inner_text(".errorlist")
    assert TenantUser.objects.get(pk=user.pk).connection.tenant_id == tenant_a["tenant"].pk


def test_declared_filters_work_when_clicked(live_server, transactional_db, tenant_a, browser_page):
    """The lock on undeclared lookups leaves the pages' own controls working: an auditor
    filters the audit console by outcome, and an admin clicks a changelist's declared
    filter."""
    for kind in ("sd", "fd"):
        AuditEvent.objects.create(tenant=tenant_a["tenant"], type=kind, jti=f"jti-{kind}")
    page, base = browser_page, live_server.url
    _submit_login(page, base, tenant_a["auditor"].username, ADMIN_PASSWORD)
    page.goto(f"{base}/admin/delegation/auditevent/")
    assert page.locator("#audit-rows tbody tr.audit-row").count() == 2
    page.select_option("#id_outcome", "failure")
    page.locator("#audit-filter button[type=submit]").click()
    page.wait_for_load_state()
    assert "outcome=failure" in page.url
    assert page.locator("#audit-rows tbody tr.audit-row").count() == 1

    TenantUser.objects.filter(pk=tenant_a["user"].pk).update(blocked=True)
    page.context.clear_cookies()
    _submit_login(page, base, tenant_a["admin"].username, ADMIN_PASSWORD)
    page.goto(f"{base}/admin/tenantauth/tenantuser/")
    assert page.locator("#result_list tbody tr").count() == 1
    page.locator("#changelist-filter a", has_text="No").first.click()
    page.wait_for_load_state()
    assert "blocked__exact=0" in page.url
    assert page.locator("#result_list tbody tr").count() == 0
    assert not page.problems, page.problems
