"""The admin site, scoped to one tenant at a time.

A platform account reaches the admin when it is active, staff, and either a superuser
(platform staff: every tenant) or a member of at least one tenant. The tenant being worked on
is chosen in the switcher and kept in the session; every ``TenantScopedModelAdmin`` reads it
through ``tenant_context(request)``.

Every admin page refuses (400) a query string holding a control character (``admin_view``).
The login form is throttled like every other password check (``tenantauth.oidc.throttling``,
realm ``admin``): slots are reserved before ``authenticate()`` runs, so parallel attempts never
pass the limit; a refusal is the login page with 429 and ``Retry-After``. django-axes, the
other candidate, counts a failure only after the password was checked (``user_login_failed``),
so 20 parallel wrong passwords all reach the hasher before any of them is counted.
"""

from dataclasses import dataclass
from functools import update_wrapper

from django.contrib import admin, messages
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from tenantauth import outages, text
from tenantauth.http import client_ip
from tenantauth.models import Membership, Tenant
from tenantauth.oidc import throttling

TOO_MANY_ATTEMPTS = "Too many failed attempts. Wait a while before trying again."

SESSION_KEY = "active_tenant_id"


@dataclass(frozen=True)
class TenantContext:
    tenant: Tenant | None
    role: str | None  # "admin", "auditor", or None
    is_platform_staff: bool

    @property
    def can_read(self) -> bool:
        """Whether the account has a role here at all (what it may do: tenantauth.roles)."""
        return self.is_platform_staff or self.role is not None


def tenant_context(request) -> TenantContext:
    """Resolve the active tenant and the user's role in it, once per request."""
    cached = getattr(request, "_tenant_context", None)
    if cached is not None:
        return cached
    user = request.user
    staff = bool(user.is_active and user.is_staff and user.is_superuser)
    tenant, role = None, None
    if user.is_active and user.is_staff:
        wanted = request.session.get(SESSION_KEY)
        if staff:
            tenant = Tenant.objects.filter(pk=wanted).first() if wanted else None
        else:
            # A stable order: without one the default tenant could differ between requests.
            memberships = (
                Membership.objects.filter(user=user)
                .select_related("tenant")
                .order_by("tenant__slug")
            )
            chosen = next((m for m in memberships if m.tenant_id == wanted), None)
            chosen = chosen or next(iter(memberships), None)
            if chosen is not None:
                tenant, role = chosen.tenant, chosen.role
    context = TenantContext(tenant=tenant, role=role, is_platform_staff=staff)
    request._tenant_context = context
    return context


class TenantAdminAuthenticationForm(AdminAuthenticationForm):
    """Staff status alone is not enough: the account must be platform staff or a member.

    Otherwise such an account would sign in and bounce between the login page and the index.
    The answer is the one a wrong password gets, so it reveals nothing about the account.
    """

    throttled: throttling.Throttled | None = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()  # nothing will be checked; the form says what is missing
        if text.has_control_characters(username) or text.has_control_characters(password):
            raise self.get_invalid_login_error()
        counters = throttling.password_counters(
            realm="admin", account=username, ip=client_ip(self.request)
        )
        try:
            with throttling.attempt(counters) as attempt:
                try:
                    cleaned = super().clean()
                except ValidationError:
                    attempt.failed("password")
                    raise
                attempt.passed("password")
                return cleaned
        except throttling.Throttled as exc:
            self.throttled = exc
            raise ValidationError(TOO_MANY_ATTEMPTS, code="throttled") from None

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not (user.is_superuser or Membership.objects.filter(user=user).exists()):
            raise ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class TenantAdminSite(admin.AdminSite):
    site_header = "TenantAuth administration"
    site_title = "TenantAuth admin"
    index_title = "Tenant administration"
    login_form = TenantAdminAuthenticationForm

    def admin_view(self, view, cacheable=False):
        wrapped = super().admin_view(view, cacheable)

        def inner(request, *args, **kwargs):
            # Filters, searches and autocomplete terms reach the database: NUL makes PostgreSQL
            # refuse the query, other control characters are never part of a real value.
            if text.query_has_control_characters(request.GET):
                raise DisallowedModelAdminLookup("Control characters in the query string")
            return wrapped(request, *args, **kwargs)

        return update_wrapper(inner, wrapped)

    def login(self, request, extra_context=None):
        """The admin login page; 429 with ``Retry-After`` when throttled, 503 when a store it
        needs (the database, the throttle counters) cannot be reached."""
        try:
            response = super().login(request, extra_context)
        except Exception as exc:
            if not outages.is_outage(exc):
                raise
            return outages.unavailable_page(request, outages.retry_after_of(exc))
        form = (getattr(response, "context_data", None) or {}).get("form")
        throttled = getattr(form, "throttled", None)
        if throttled is not None:
            response.status_code = 429
            response["Retry-After"] = str(throttled.retry_after)
        return response

    def has_permission(self, request):
        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        return tenant_context(request).can_read

    def each_context(self, request):
        context = super().each_context(request)
        if request.user.is_authenticated and self.has_permission(request):
            ctx = tenant_context(request)
            if ctx.is_platform_staff:
                choices = list(Tenant.objects.order_by("slug").values_list("pk", "slug"))
            else:
                choices = list(
                    Membership.objects.filter(user=request.user)
                    .order_by("tenant__slug")
                    .values_list("tenant_id", "tenant__slug")
                )
            context.update(
                tenant_choices=choices,
                active_tenant=ctx.tenant,
                active_role=("platform staff" if ctx.is_platform_staff else ctx.role),
            )
        return context

    RECENT_ACTIONS = 10

    def recent_actions(self, request) -> list[tuple]:
        """The reader's last admin actions as ``(LogEntry, url or None)``: a link only when the
        object still exists in the tenant being worked on and the reader may view it, so no
        link leads to another tenant's object or to a page the reader cannot open."""
        from django.contrib.admin.models import LogEntry

        entries = list(
            LogEntry.objects.filter(user=request.user).select_related("content_type")[
                : self.RECENT_ACTIONS
            ]
        )
        result = []
        for entry in entries:
            url = None
            model = entry.content_type.model_class() if entry.content_type else None
            model_admin = self._registry.get(model)
            if model_admin is not None and not entry.is_deletion():
                obj = model_admin.get_queryset(request).filter(pk=entry.object_id).first()
                if obj is not None and model_admin.has_view_permission(request, obj):
                    url = entry.get_admin_url()
            result.append((entry, url))
        return result

    def index(self, request, extra_context=None):
        context = {"recent_actions": self.recent_actions(request), **(extra_context or {})}
        return super().index(request, context)

    def get_urls(self):
        return [
            path("switch-tenant/", self.admin_view(self.switch_tenant), name="switch_tenant"),
            *super().get_urls(),
        ]

    def switch_tenant(self, request):
        # POST only; a GET (a reloaded or bookmarked URL) goes back to the index.
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:index"))
        raw = request.POST.get("tenant", "")
        ctx = tenant_context(request)
        allowed = (
            Tenant.objects.all()
            if ctx.is_platform_staff
            else Tenant.objects.filter(memberships__user=request.user)
        )
        if raw == "" and ctx.is_platform_staff:
            request.session.pop(SESSION_KEY, None)
        elif raw.isdigit() and allowed.filter(pk=int(raw)).exists():
            request.session[SESSION_KEY] = int(raw)
        else:
            messages.error(request, "You are not a member of that tenant.")
        next_url = request.POST.get("next") or reverse("admin:index")
        if not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("admin:index")
        # The page the user was on may belong to the old tenant; the index is always safe.
        return HttpResponseRedirect(reverse("admin:index") if "/change/" in next_url else next_url)
