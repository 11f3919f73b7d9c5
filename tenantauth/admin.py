"""Admin pages for tenants, members, applications, users and signing keys.

Every page derives from ``LockedDownAdminMixin`` (enforced by the system checks below):

* permissions come from one table, ``tenantauth.roles.RIGHTS``, through the mixin's
  ``has_*_permission`` methods, which no page overrides;
* only what a page declares reaches the ORM from a URL: its list filters, its search, its date
  hierarchy, ordering by its sortable columns and the changelist's own parameters (``p``,
  ``o``, ``q``, ``_popup``, ...). Anything else, e.g. ``?password__regex=...`` on the users'
  list, answers 400, for every role: a row count must never answer a question about a value
  the page does not show;
* a sensitive column (passwords, ciphertexts, hashes and fingerprints, secrets, private keys)
  is never a list filter, a sortable or displayed column, a date hierarchy or a search field
  (except an exact ``=`` search on a fingerprint: it finds the row of a value one already
  holds, e.g. the audit log's "paste a token").

``TenantScopedModelAdmin`` adds the tenant scoping: querysets, foreign-key choices, list
filters and permissions all follow the tenant chosen in the switcher, so a tenant admin can
never see or touch another tenant's rows through any page, filter, action or URL.
"""

import copy
import json
import re

from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.admin.exceptions import DisallowedModelAdminLookup
from django.contrib.admin.filters import SimpleListFilter
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
)
from django.template.response import TemplateResponse
from django.urls import get_resolver, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.views.decorators.debug import sensitive_post_parameters

from addons import registry as addon_registry
from addons import selectors as addon_selectors
from addons.models import AddonConfiguration
from delegation import policy, preview
from tenantauth import certificates, roles, services, signing, text
from tenantauth import selectors as tenant_selectors
from tenantauth.admin_site import tenant_context
from tenantauth.forms import (
    ApplicationForm,
    ClientSecretForm,
    DelegationTryItForm,
    MembershipInviteForm,
    MembershipRoleForm,
    SigningKeyImportForm,
    TenantBoundFormMixin,
    TenantUserCreationForm,
    TenantUserPasswordForm,
)
from tenantauth.models import (
    Application,
    Connection,
    Membership,
    SigningKey,
    Tenant,
    TenantUser,
)

sensitive = method_decorator(sensitive_post_parameters())

# Columns whose values a page never shows in full and a URL must never probe.
SENSITIVE_FIELD = re.compile(
    r"^password$|_ciphertext$|_fingerprint$|_hash$|secret|private_key|^code_challenge$"
)


def is_sensitive_field(name: str) -> bool:
    """Whether the column ``name`` holds a secret or a value derived from one."""
    return bool(SENSITIVE_FIELD.search(name))


def role_of(request) -> str | None:
    """The request's role in ``tenantauth.roles``: staff, or the membership role, or None."""
    ctx = tenant_context(request)
    if ctx.is_platform_staff:
        return roles.STAFF
    return ctx.role


class DeclaredLookupsChangeList(ChangeList):
    """A changelist that refuses (400) every URL parameter the page did not declare.

    Django applies query-string parameters that no list filter consumed straight to the
    queryset (``qs.filter(**remaining)``): ``?password__regex=^pbkdf2_sha256$1000000$[a-m]``
    would turn the row count into an oracle. Here, whatever the declared list filters and the
    date hierarchy did not consume is refused before any query runs.
    """

    def get_filters(self, request):
        sent = set(self.get_filters_params())
        filters = super().get_filters(request)
        remaining = filters[2]
        undeclared = sorted(key for key in remaining if key in sent)
        if undeclared:
            raise DisallowedModelAdminLookup(f"Filtering by {undeclared[0][:64]!r} not allowed")
        return filters


class LockedDownAdminMixin:
    """The rules every admin page of this site follows (see the module docstring)."""

    # --- permissions: the roles table, in one place ---------------------------------------
    def _in_scope(self, request, obj) -> bool:
        """Whether ``obj`` belongs to what the request works on (overridden for tenants)."""
        return True

    def _object_allows(self, request, action: str, obj) -> bool:
        """A page may narrow (never widen) the table's rights for some rows (e.g. platform
        staff's memberships are not a tenant admin's to change)."""
        return True

    def _may(self, request, action: str, obj=None) -> bool:
        return (
            roles.allowed(role_of(request), self.opts.label_lower, action)
            and self._in_scope(request, obj)
            and self._object_allows(request, action, obj)
        )

    def has_module_permission(self, request):
        return roles.any_allowed(role_of(request), self.opts.label_lower)

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view", obj)

    def _may_add_here(self, request) -> bool:
        """Whether new rows have somewhere to go (overridden for tenant-owned rows)."""
        return True

    def has_add_permission(self, request):
        return self._may(request, "add") and self._may_add_here(request)

    def has_change_permission(self, request, obj=None):
        return self._may(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, "delete", obj)

    def _require_write(self, request, obj):
        if not self.has_change_permission(request, obj):
            raise PermissionDenied

    # --- what a URL may ask the ORM -------------------------------------------------------
    def _declared_lookups(self, request) -> set[str]:
        declared = {self.date_hierarchy} if self.date_hierarchy else set()
        for item in self.get_list_filter(request):
            if isinstance(item, type) and issubclass(item, SimpleListFilter):
                declared.add(item.parameter_name)
            elif isinstance(item, (list, tuple)):
                declared.add(item[0])
            elif isinstance(item, str):
                declared.add(item)
        return declared

    def lookup_allowed(self, lookup, value, request=None):
        """Only lookups under a declared list filter or the date hierarchy, never through a
        sensitive column, never with control characters. (``DeclaredLookupsChangeList`` then
        refuses any such lookup the filter itself does not consume.)"""
        if text.has_control_characters(lookup) or (
            isinstance(value, str) and text.has_control_characters(value)
        ):
            return False
        model = self.model
        for part in lookup.split(LOOKUP_SEP):
            try:
                field = model._meta.get_field(part)
            except FieldDoesNotExist:
                break
            if is_sensitive_field(field.name):
                return False
            if not field.is_relation or field.related_model is None:
                break
            model = field.related_model
        declared = self._declared_lookups(request) if request is not None else set()
        return any(lookup == name or lookup.startswith(name + LOOKUP_SEP) for name in declared)

    def get_changelist(self, request, **kwargs):
        return DeclaredLookupsChangeList


class TenantScopedModelAdmin(LockedDownAdminMixin, admin.ModelAdmin):
    """Scope everything to the active tenant; rights per ``tenantauth.roles``."""

    tenant_lookup = "tenant"  # path from the model to its Tenant
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    # --- scoping ----------------------------------------------------------------------------
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        ctx = tenant_context(request)
        if ctx.tenant is not None:
            return qs.filter(**{self.tenant_lookup: ctx.tenant})
        if ctx.is_platform_staff:
            return qs
        return qs.none()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scope_choices(self, db_field, request, kwargs):
        ctx = tenant_context(request)
        related = db_field.related_model
        if ctx.tenant is None:
            if not ctx.is_platform_staff:
                kwargs["queryset"] = related._default_manager.none()
            return
        if related is Tenant:
            kwargs["queryset"] = Tenant.objects.filter(pk=ctx.tenant.pk)
        elif any(f.name == "tenant" for f in related._meta.fields):
            kwargs["queryset"] = related._default_manager.filter(tenant=ctx.tenant)

    def get_list_filter(self, request):
        filters = []
        for item in super().get_list_filter(request):
            field = self.model._meta.get_field(item) if isinstance(item, str) else None
            if isinstance(field, models.ForeignKey):
                filters.append((item, RelatedOnlyFieldListFilter))
            else:
                filters.append(item)
        return filters

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if self.tenant_lookup != "tenant":
            return form
        tenant = obj.tenant if obj is not None else tenant_context(request).tenant
        bases = (form,) if issubclass(form, TenantBoundFormMixin) else (TenantBoundFormMixin, form)
        return type(form.__name__, bases, {"tenant": tenant})

    def get_exclude(self, request, obj=None):
        exclude = list(super().get_exclude(request, obj) or [])
        # Rows always belong to the active tenant; a posted ``tenant`` is ignored.
        if self.tenant_lookup == "tenant" and not tenant_context(request).is_platform_staff:
            exclude.append("tenant")
        return exclude

    def get_list_display(self, request):
        display = list(super().get_list_display(request))
        ctx = tenant_context(request)
        if ctx.is_platform_staff and ctx.tenant is None and self.tenant_lookup == "tenant":
            display.append("tenant")
        return display

    def save_model(self, request, obj, form, change):
        ctx = tenant_context(request)
        if self.tenant_lookup == "tenant" and not change and ctx.tenant is not None:
            obj.tenant = ctx.tenant
        super().save_model(request, obj, form, change)

    # --- scope of a row ---------------------------------------------------------------------
    def _in_scope(self, request, obj) -> bool:
        if obj is None:
            return True
        ctx = tenant_context(request)
        if ctx.tenant is None:
            return ctx.is_platform_staff
        tenant_id = obj.pk if isinstance(obj, Tenant) else getattr(obj, "tenant_id", None)
        return tenant_id == ctx.tenant.pk

    def _may_add_here(self, request) -> bool:
        # New rows join the tenant being worked on; without one only staff may add (tenants).
        ctx = tenant_context(request)
        return ctx.tenant is not None or ctx.is_platform_staff


# --- tenants ---------------------------------------------------------------------------------
class SigningKeyInline(admin.TabularInline):
    model = SigningKey
    fields = ["kid", "status", "created_at", "retired_at", "verify_until"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return roles.allowed(role_of(request), "tenantauth.signingkey", "view")


@admin.register(Tenant)
class TenantAdmin(TenantScopedModelAdmin):
    tenant_lookup = "pk"
    list_display = ["slug", "name", "delegation_enabled", "delegation_rate_limit", "issuer"]
    search_fields = ["slug", "name"]
    inlines = [SigningKeyInline]
    fieldsets = [
        (None, {"fields": ["slug", "name", "issuer"]}),
        (
            "Delegation",
            {
                "fields": [
                    "delegation_enabled",
                    "delegation_rate_limit",
                    "empty_allowlist_means_all",
                ]
            },
        ),
        ("Audit", {"fields": ["audit_retention_days"]}),
    ]
    change_form_template = "admin/tenantauth/tenant/change_form.html"

    def get_queryset(self, request):
        qs = Tenant.objects.select_related("active_signing_key")
        ctx = tenant_context(request)
        if ctx.tenant is not None:
            return qs.filter(pk=ctx.tenant.pk)
        return qs if ctx.is_platform_staff else qs.none()

    def get_readonly_fields(self, request, obj=None):
        return ["issuer", "slug"] if obj else ["issuer"]

    @admin.display(description="Issuer")
    def issuer(self, obj):
        return obj.issuer if obj and obj.pk else "-"

    def save_model(self, request, obj, form, change):
        settings = {field: form.cleaned_data[field] for field in form.changed_data}
        if change:
            services.tenant_update(tenant=obj, actor=request.user, **settings)
        else:
            settings.pop("slug", None)
            settings.pop("name", None)
            created = services.tenant_create(slug=obj.slug, name=obj.name, **settings)
            obj.pk = created.pk

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/rotate-key/", view(self.rotate_key), name="tenantauth_tenant_rotatekey"),
            path("<int:pk>/import-key/", view(self.import_key), name="tenantauth_tenant_importkey"),
            path(
                "<int:pk>/signing-certificate/",
                view(self.signing_certificate_page),
                name="tenantauth_tenant_signingcertificate",
            ),
            path(
                "<int:pk>/signing-certificate.pem",
                view(self.signing_certificate_pem),
                name="tenantauth_tenant_certificate",
            ),
            *super().get_urls(),
        ]

    def _get_readable(self, request, pk):
        # The same answer for another tenant's row and for a role without view (auditors).
        obj = self.get_queryset(request).filter(pk=pk).first()
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    def signing_certificate_page(self, request, pk):
        """The tenant's signing certificate: which key signs, where it is used, what a
        rotation does, and the PEM to download (admins and staff; public material only)."""
        tenant = self._get_readable(request, pk)
        key = tenant.active_signing_key
        cert = None
        if key is not None:
            try:
                cert = certificates.signing_certificate(tenant=tenant, key=key)
            except signing.KeyUnavailableError:
                cert = None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Signing certificate of {tenant.name or tenant.slug}",
            "original": tenant,
            "opts": self.opts,
            "key": key,
            "key_bits": signing.rsa_public_key(key).key_size if cert else None,
            "certificate": cert,
            "used_by": addon_selectors.tenant_certificate_users(tenant=tenant),
            "addon_names": {k: s.display_name for k, s in addon_registry.SPECS.items()},
            "has_change_permission": self.has_change_permission(request, tenant),
        }
        return TemplateResponse(
            request, "admin/tenantauth/tenant/signing_certificate.html", context
        )

    def signing_certificate_pem(self, request, pk):
        """The certificate as a PEM file (RFC 7468), named after the tenant and the key."""
        tenant = self._get_readable(request, pk)
        key = tenant.active_signing_key
        if key is None:
            raise Http404("no active signing key")
        cert = certificates.signing_certificate(tenant=tenant, key=key)
        response = HttpResponse(cert.pem, content_type="application/x-pem-file")
        response["Content-Disposition"] = (
            f'attachment; filename="{tenant.slug}-signing-certificate.pem"'
        )
        return response

    def _get_scoped(self, request, pk):
        obj = self.get_queryset(request).filter(pk=pk).first()
        if obj is None:
            raise PermissionDenied
        self._require_write(request, obj)
        return obj

    def rotate_key(self, request, pk):
        """POST only; a GET (a bookmarked or reloaded URL) goes back to the tenant page."""
        tenant = self._get_scoped(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:tenantauth_tenant_change", args=[tenant.pk]))
        key = services.signing_key_rotate(tenant=tenant, actor=request.user)
        self.log_change(request, tenant, f"Rotated signing key; new kid {key.kid}.")
        messages.success(
            request,
            f"New signing key {key.kid} is active; the old one still "
            "verifies until its tokens expire.",
        )
        return HttpResponseRedirect(reverse("admin:tenantauth_tenant_change", args=[tenant.pk]))

    @sensitive
    def import_key(self, request, pk):
        tenant = self._get_scoped(request, pk)
        form = SigningKeyImportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                imported = services.signing_key_rotate(
                    tenant=tenant,
                    actor=request.user,
                    private_key_pem=form.cleaned_data["private_key_pem"],
                )
            except services.DuplicateSigningKeyError as exc:
                form.add_error("private_key_pem", exc)
            else:
                self.log_change(request, tenant, f"Imported signing key {imported.kid}.")
                messages.success(request, f"Imported key {imported.kid} is now active.")
                return HttpResponseRedirect(
                    reverse("admin:tenantauth_tenant_change", args=[tenant.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Import a signing key for {tenant.slug}",
            "form": form,
            "original": tenant,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/tenantauth/form_page.html", context)


# --- tenant members --------------------------------------------------------------------------
@admin.register(Membership)
class MembershipAdmin(TenantScopedModelAdmin):
    """The tenant's admins and auditors. A tenant admin invites (a new platform account with a
    one-time password, or an existing account by username), changes roles and removes
    members of their own tenant, never platform staff and never the tenant's last admin;
    every change is audited by the services."""

    list_display = ["member", "role", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username"]
    readonly_fields = ["member", "created_at"]
    actions = None  # removals one at a time, each through the last-admin check

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "tenant")

    @admin.display(description="Member", ordering="user__username")
    def member(self, obj):
        return obj.user.get_username() if obj and obj.user_id else "-"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["account", "username", "email", "role"]
        return ["member", "role", "created_at"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = MembershipRoleForm if obj is not None else MembershipInviteForm
        return super().get_form(request, obj, change=change, **kwargs)

    # Rights come from tenantauth.roles; these hooks only narrow them.
    def _object_allows(self, request, action: str, obj) -> bool:
        # Platform staff's own accounts are theirs to manage, not a tenant admin's.
        if action == "view" or obj is None or tenant_context(request).is_platform_staff:
            return True
        return not obj.user.is_superuser

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        for membership in objs:
            if services.membership_is_last_admin(membership=membership):
                protected = [*protected, f"{membership.user} is this tenant's last admin"]
        return deleted, counts, perms_needed, protected

    def save_model(self, request, obj, form, change):
        if change:
            services.membership_set_role(
                membership=obj, role=form.cleaned_data["role"], actor=request.user
            )
            return
        tenant = tenant_context(request).tenant
        if tenant is None:
            raise PermissionDenied("Choose a tenant in the switcher first.")
        membership, password = services.membership_invite(
            tenant=tenant,
            actor=request.user,
            username=form.cleaned_data["username"],
            role=form.cleaned_data["role"],
            create_account=form.cleaned_data["account"] == MembershipInviteForm.NEW,
            email=form.cleaned_data.get("email") or "",
        )
        obj.pk, obj.user, obj.tenant = membership.pk, membership.user, membership.tenant
        request._one_time_password = password

    def delete_model(self, request, obj):
        try:
            services.membership_remove(membership=obj, actor=request.user)
        except services.MembershipError as exc:
            raise PermissionDenied(exc.message) from None

    def response_add(self, request, obj, post_url_continue=None):
        password = getattr(request, "_one_time_password", None)
        if not password:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{obj.user.get_username()} was added as {obj.get_role_display()}",
            "opts": self.opts,
            "original": obj,
            "username": obj.user.get_username(),
            "password": password,
        }
        response = TemplateResponse(request, "admin/tenantauth/membership/invited.html", context)
        response["Cache-Control"] = "no-store"
        return response


# --- applications ----------------------------------------------------------------------------
def _copy_button(target_id: str, label: str = "Copy"):
    # Hidden until admin.js runs: without JavaScript there is nothing to copy with.
    return format_html(
        '<button type="button" class="copy-button" data-copy-target="{}" hidden>{}</button>',
        target_id,
        label,
    )


def tenant_endpoints(tenant) -> list[tuple[str, str, str]]:
    """Every URL under ``/t/<slug>/``, as ``(label, url, dom id)``, read from the URL map so
    that a new tenant endpoint appears here without an edit."""
    labels = {
        "oidc:authorize": "OAuth Authorization URL (hosted login)",
        "oidc:token": "OAuth Token URL",
        "oidc:signup": "Sign-up URL (dbconnections/signup)",
        "oidc:userinfo": "OIDC userinfo URL",
        "oidc:discovery": "OpenID Configuration",
        "oidc:jwks": "JSON Web Key Set",
        "delegation": "Delegation URL",
    }
    found = []
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "t/<slug:tenant_slug>/" or not hasattr(pattern, "url_patterns"):
            continue
        namespace = getattr(pattern, "namespace", None)
        for sub in pattern.url_patterns:
            route = str(sub.pattern)
            if "<" in route:
                continue
            name = f"{namespace}:{sub.name}" if namespace and sub.name else (sub.name or route)
            found.append((namespace != "oidc", labels.get(name, route), tenant.issuer + route))
    # The sign-in endpoints first, in their URL order, then the delegation app's, whatever the
    # order the URL map tries them in (``/delegation`` first, for speed).
    found = [row[1:] for row in sorted(found, key=lambda row: row[0])]
    return [
        (label, url, f"endpoint-{index}")
        for index, (label, url) in enumerate([("Domain (issuer)", tenant.issuer), *found])
    ]


@admin.register(Application)
class ApplicationAdmin(TenantScopedModelAdmin):
    """The application page, shaped like an identity dashboard's: tabs Settings (with
    Advanced Settings: OAuth, Grant Types, Endpoints, Certificates), Add-ons and Delegation,
    plus the "try it" panel. The tabs are sections of one page; ``admin.js`` turns them into
    ARIA tabs."""

    form = ApplicationForm
    list_display = ["name", "client_id", "app_type", "signature_algorithm", "active"]
    list_filter = ["app_type", "jwt_signature_algorithm", "is_active", "oidc_conformant"]
    search_fields = ["name", "client_id"]
    change_form_template = "admin/tenantauth/application/change_form.html"
    delete_confirmation_template = "admin/tenantauth/application/delete_confirmation.html"

    TAB_SETTINGS = "tab-settings"
    TAB_OAUTH, TAB_GRANTS = "tab-oauth", "tab-grant-types"
    TAB_ENDPOINTS, TAB_CERTIFICATES = "tab-endpoints", "tab-certificates"

    def get_readonly_fields(self, request, obj=None):
        fields = ["client_id_display", "client_secret_display", "domain"]
        if obj is not None:
            fields += ["endpoints", "certificates"]
        return fields

    def get_fieldsets(self, request, obj=None):
        editable = self.has_change_permission(request, obj) if obj else True
        basic = ["name"]
        if obj:
            basic += ["domain", "client_id_display", "client_secret_display"]
        is_api = obj is not None and obj.app_type == Application.AppType.API
        uris = (
            ["allowed_origins_text"]
            if is_api
            else ["callback_urls_text", "allowed_logout_urls_text", "allowed_origins_text"]
        )
        allowed = (
            ["allowed_clients_picked", "allowed_clients_add", "allowed_clients_text"]
            if editable
            else ["allowed_clients_display"]
        )
        sets = [
            ("Basic Information", {"classes": [self.TAB_SETTINGS, "ta-secret"], "fields": basic}),
            (
                "Application Properties",
                {"classes": [self.TAB_SETTINGS], "fields": ["app_type", "is_active"]},
            ),
            ("Application URIs", {"classes": [self.TAB_SETTINGS], "fields": uris}),
            ("ID Token", {"classes": [self.TAB_SETTINGS], "fields": ["jwt_lifetime_seconds"]}),
            # The Advanced Settings tabs carry the headings of these sections.
            (
                None,
                {
                    "classes": [self.TAB_OAUTH],
                    "fields": [*allowed, "jwt_signature_algorithm", "oidc_conformant"],
                },
            ),
            (None, {"classes": [self.TAB_GRANTS], "fields": ["grant_types"]}),
        ]
        if obj:
            sets += [
                (None, {"classes": [self.TAB_ENDPOINTS], "fields": ["endpoints"]}),
                (None, {"classes": [self.TAB_CERTIFICATES], "fields": ["certificates"]}),
            ]
        return sets

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        tabs = [(self.TAB_OAUTH, "OAuth"), (self.TAB_GRANTS, "Grant Types")]
        if obj is not None:
            tabs += [(self.TAB_ENDPOINTS, "Endpoints"), (self.TAB_CERTIFICATES, "Certificates")]
        context["advanced_tabs"] = tabs
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- read-only displays -----------------------------------------------------------------
    @admin.display(description="Signing", ordering="jwt_signature_algorithm")
    def signature_algorithm(self, obj):
        # The short code: the long choice labels push the list past the filter sidebar.
        return obj.jwt_signature_algorithm

    @admin.display(description="Active", boolean=True, ordering="is_active")
    def active(self, obj):
        return obj.is_active

    @admin.display(description="Domain")
    def domain(self, obj):
        if not obj:
            return "-"
        value = obj.tenant.issuer.rstrip("/")
        return format_html(
            '<code id="domain-value">{}</code> {}', value, _copy_button("domain-value")
        )

    @admin.display(description="Client ID")
    def client_id_display(self, obj):
        if not obj or not obj.pk:
            return "Generated when the application is saved."
        return format_html(
            '<code id="client-id-value">{}</code> {}',
            obj.client_id,
            _copy_button("client-id-value"),
        )

    @admin.display(description="Client Secret")
    def client_secret_display(self, obj):
        if not obj or not obj.pk:
            return "Generated when the application is saved."
        return format_html(
            '<code class="secret-mask" id="client-secret-value" aria-label="Client secret, hidden">'
            "••••••••••••••••</code> "
            '<span class="help">SHA-256 {}…</span>',
            obj.client_secret_fingerprint[:12],
        )

    @admin.display(description="Allowed APPs / APIs")
    def allowed_clients_display(self, obj):
        apps = dict(Application.objects.filter(tenant=obj.tenant).values_list("client_id", "name"))
        if not obj.allowed_clients:
            return "(empty)"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} <code>{}</code></li>",
                ((apps.get(c, "(unknown)"), c) for c in obj.allowed_clients),
            ),
        )

    def _lines_display(self, values):
        if not values:
            return "(none)"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li><code>{}</code></li>", ((v,) for v in values))
        )

    @admin.display(description="Allowed Callback URLs")
    def callback_urls_text(self, obj):
        return self._lines_display(obj.callback_urls)

    @admin.display(description="Allowed Logout URLs")
    def allowed_logout_urls_text(self, obj):
        return self._lines_display(obj.allowed_logout_urls)

    @admin.display(description="Allowed Web Origins")
    def allowed_origins_text(self, obj):
        return self._lines_display(obj.allowed_origins)

    @admin.display(description="Endpoints")
    def endpoints(self, obj):
        rows = tenant_endpoints(obj.tenant)
        return format_html(
            '<dl class="endpoint-list">{}</dl>',
            format_html_join(
                "",
                '<dt>{}</dt><dd><code id="{}">{}</code> {}</dd>',
                ((label, dom_id, url, _copy_button(dom_id)) for label, url, dom_id in rows),
            ),
        )

    @admin.display(description="Signing certificate")
    def certificates(self, obj):
        tenant = obj.tenant
        key = tenant.active_signing_key
        jwks = {"keys": [k.public_jwk for k in tenant_selectors.verification_keys(tenant=tenant)]}
        jwks_html = format_html(
            '<h3 id="jwks-heading">JSON Web Key Set</h3>'
            '<p class="help">Published at <code>{}</code>: the active key and retired keys '
            "that still verify.</p>"
            '<pre id="jwks-value" class="code-block" tabindex="0" aria-labelledby="jwks-heading">'
            "{}</pre>{}",
            tenant.issuer + ".well-known/jwks.json",
            json.dumps(jwks, indent=2),
            _copy_button("jwks-value", "Copy JWKS"),
        )
        if key is None:
            return format_html("<p>This tenant has no active signing key.</p>{}", jwks_html)
        try:
            cert = certificates.signing_certificate(tenant=tenant, key=key)
        except signing.KeyUnavailableError:
            return format_html("<p>The signing key cannot be read right now.</p>{}", jwks_html)
        return format_html(
            "<p>Tokens signed with RS256 carry <code>kid</code> <code>{}</code>. "
            "The certificate wraps the same public key (self-signed, valid until {}).</p>"
            '<dl class="fingerprints"><dt>SHA-256 fingerprint</dt><dd><code>{}</code></dd>'
            "<dt>SHA-1 fingerprint</dt><dd><code>{}</code></dd></dl>"
            '<h3 id="certificate-heading">Signing certificate (PEM)</h3>'
            '<pre id="certificate-value" class="code-block" tabindex="0" '
            'aria-labelledby="certificate-heading">{}</pre>{} '
            '<a class="button" href="{}" download>Download certificate</a>{}',
            cert.kid,
            f"{cert.not_after:%Y-%m-%d}",
            cert.sha256,
            cert.sha1,
            cert.pem,
            _copy_button("certificate-value", "Copy certificate"),
            reverse("admin:tenantauth_application_certificate", args=[obj.pk]),
            jwks_html,
        )

    # --- saving and deleting ----------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        changes = form.settings_changes()
        if change:
            # ``obj`` already carries the posted values (the form applied them); the service
            # needs the stored row to see, and audit, what actually changed.
            stored = self.get_queryset(request).select_related("tenant").get(pk=obj.pk)
            services.application_update(application=stored, actor=request.user, **changes)
            obj.refresh_from_db()
        else:
            tenant = tenant_context(request).tenant
            if tenant is None:
                raise PermissionDenied("Choose a tenant in the switcher first.")
            created = services.application_create(tenant=tenant, actor=request.user, **changes)
            obj.pk = created.pk
            obj.client_id = created.client_id

    def get_deleted_objects(self, objs, request):
        """Django's list, plus each allow-list that loses an entry; a delete that would leave
        a list empty on a tenant reading empty as "all" is refused (listed as protected)."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        objs = list(objs)
        if objs:
            effects = services.application_delete_effects(tenant=objs[0].tenant, applications=objs)
            deleted = [
                *deleted,
                *(
                    f"Allowed APPs / APIs of {app.name}: the entry is removed"
                    for app in effects["referenced_by"]
                ),
            ]
            protected = [
                *protected,
                *(
                    f"Allowed APPs / APIs of {app.name} would become empty, which this tenant "
                    "reads as all applications: change that list first"
                    for app in effects["widened"]
                ),
            ]
        return deleted, counts, perms_needed, protected

    def delete_model(self, request, obj):
        try:
            services.application_delete(application=obj, actor=request.user)
        except services.ApplicationDeleteRefused as exc:
            # The confirmation page already refused; this is a list changed in between.
            raise PermissionDenied(exc.message % exc.params) from None

    def delete_queryset(self, request, queryset):
        tenant = tenant_context(request).tenant
        apps = list(queryset.select_related("tenant"))
        by_tenant: dict[int, list[Application]] = {}
        for app in apps:
            by_tenant.setdefault(app.tenant_id, []).append(app)
        try:
            with transaction.atomic():
                for group in by_tenant.values():
                    services.applications_delete(
                        tenant=tenant or group[0].tenant, applications=group, actor=request.user
                    )
        except services.ApplicationDeleteRefused as exc:
            raise PermissionDenied(exc.message % exc.params) from None

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_queryset(request).select_related("tenant").filter(pk=object_id).first()
        extra = dict(extra_context or {})
        if obj is not None and self.has_view_permission(request, obj):
            extra["referenced_by"] = self._linked(
                request,
                services.application_delete_effects(tenant=obj.tenant, applications=[obj])[
                    "referenced_by"
                ],
            )
        return super().delete_view(request, object_id, extra)

    # --- the change page --------------------------------------------------------------------
    def _linked(self, request, apps):
        """``(application, admin URL or None)``: a link only where the reader may go."""
        return [
            (
                app,
                reverse("admin:tenantauth_application_change", args=[app.pk])
                if self.has_view_permission(request, app)
                else None,
            )
            for app in apps
        ]

    def _delegation_context(self, request, app) -> dict:
        """The Delegation tab: who may call this application, and whom it may call (api_type
        app), each entry with the policy's decision so listed-but-refused pairs show why."""
        tenant = app.tenant
        apps = list(Application.objects.filter(tenant=tenant).order_by("name"))
        by_id = {a.client_id: a for a in apps}
        callers = [by_id[c] for c in app.allowed_clients if c in by_id and c != app.client_id]
        callees = [a for a in apps if a.pk != app.pk and app.client_id in (a.allowed_clients or [])]
        open_targets = [
            a
            for a in apps
            if a.pk != app.pk and not a.allowed_clients and tenant.empty_allowlist_means_all
        ]

        def row(other, source, target):
            (_, url) = self._linked(request, [other])[0]
            decision = policy.delegation_decide(
                tenant=tenant, source=source, target=target, api_type="app"
            )
            return {"app": other, "url": url, "decision": decision}

        return {
            "callers": [row(caller, caller, app) for caller in callers],
            "callees": [row(callee, app, callee) for callee in callees],
            "open_targets": self._linked(request, open_targets),
            "empty_allowlist_means_all": tenant.empty_allowlist_means_all,
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = dict(extra_context or {})
        bound_addon_form = extra.pop(self._BOUND_ADDON_FORM, None)
        obj = self.get_queryset(request).select_related("tenant").filter(pk=object_id).first()
        if obj is not None and self.has_view_permission(request, obj):
            extra["delegation"] = self._delegation_context(request, obj)
            extra["can_try_it"] = self.has_change_permission(request, obj)
            extra["addon_tab"] = self._addon_tab(request, obj, bound_form=bound_addon_form)
        return super().change_view(request, object_id, form_url, extra)

    # --- the Add-ons tab --------------------------------------------------------------------
    # Each card is its own <form> posting to the add-on admin's configure view
    # (``addons.admin.AddonConfigurationAdmin.configure_view``: the one place that checks,
    # saves through ``addons.services.addon_configure`` and logs) with this hidden field, which
    # sends the answer back here: a redirect to the card after a save, this page with the
    # card's errors after a refusal (``addon_tab_response``).
    ADDON_TAB_FIELD = "_addons_tab"
    _BOUND_ADDON_FORM = "_bound_addon_form"

    @staticmethod
    def addon_auto_id(api_type: str) -> str:
        """The ``auto_id`` of an add-on card's form: every card shares the page, so each
        card's ids carry its api_type (``id_azure_blob-account_name``)."""
        return f"id_{api_type}-%s"

    @staticmethod
    def addon_card_id(api_type: str) -> str:
        return f"addon-{api_type}"

    def addon_card_url(self, application, api_type: str) -> str:
        """The application page opened on one add-on's card (the Add-ons tab)."""
        return f"{self._change_url(application)}#{self.addon_card_id(api_type)}"

    def _addon_tab(self, request, obj, *, bound_form=None):
        """The Add-ons tab: one card per add-on of ``addons.registry.SPECS`` (every registered
        add-on, in the default-api_type order), each with its name, an on/off switch (the
        form's ``enabled`` checkbox), its state ("not configured", on/off, each secret "set" or
        "not set", never a value, length or fingerprint) and the add-on's own form, whose
        secret fields render empty. ``bound_form``: a submitted form that was refused; its
        card shows the errors and opens. None when the reader may not see add-ons."""
        pages = self.admin_site.get_model_admin(AddonConfiguration)
        if not pages.has_view_permission(request):
            return None
        configs = {
            config.addon: config
            for config in addon_selectors.addon_configuration_list(
                tenant=obj.tenant, application=obj
            )
        }
        cards = []
        for spec in addon_registry.SPECS.values():
            config = configs.get(spec.api_type)
            if bound_form is not None and bound_form.api_type == spec.api_type:
                form = bound_form
            else:
                form = spec.form_class(
                    configuration=config, auto_id=self.addon_auto_id(spec.api_type)
                )
            can_write = pages.has_change_permission(request, config)
            switch = form.fields["enabled"].widget
            switch.attrs.update(
                role="switch", **{"aria-describedby": f"{self.addon_card_id(spec.api_type)}-state"}
            )
            if not can_write:
                for field in form.fields.values():
                    field.disabled = True
            if form is bound_form and form.errors:
                self._autofocus_first_error(form)
            stored = set(config.secret_names) if config else set()
            cards.append(
                {
                    "spec": spec,
                    "config": config,
                    "form": form,
                    "dom_id": self.addon_card_id(spec.api_type),
                    "settings": [form[name] for name in form.SETTINGS],
                    "secrets": [form[name] for name in form.SECRETS],
                    # Whether each secret is stored: names only, nothing derived from a value.
                    "secret_states": [(form[name].label, name in stored) for name in form.SECRETS],
                    "action": reverse(
                        "admin:addons_addonconfiguration_configure", args=[obj.pk, spec.api_type]
                    ),
                    "history": reverse("admin:addons_addonconfiguration_history", args=[config.pk])
                    if config is not None
                    else None,
                    "can_write": can_write,
                    "open": form is bound_form and bool(form.errors),
                }
            )
        return {"cards": cards, "tab_field": self.ADDON_TAB_FIELD}

    @staticmethod
    def _autofocus_first_error(form):
        """Focus the card's first field with an error on load, in the card's order (the
        switch, the settings, the secrets); for a form-wide error its first setting. Works
        without JavaScript; admin.js also opens the tab and the card."""
        order = ["enabled", *form.SETTINGS, *form.SECRETS]
        first = next((name for name in order if form.errors.get(name)), None)
        if first is None:  # only errors of the form as a whole
            first = (*form.SETTINGS, *form.SECRETS, "enabled")[0]
        form.fields[first].widget.attrs["autofocus"] = True

    def addon_tab_response(self, request, application, form):
        """This application's page with ``form`` (an add-on form refused by the configure
        view) in its card on the Add-ons tab, errors next to their fields (and admin.js
        opening the tab and focusing the first of them). The secret fields render empty."""
        # The page itself is the GET rendering: the POST was the card's, not the settings
        # form's, which must come back unbound (and post to its own URL, not this one).
        page_request = copy.copy(request)
        page_request.method = "GET"
        page_request.POST = QueryDict()
        response = self.change_view(
            page_request,
            str(application.pk),
            form_url=self._change_url(application),
            extra_context={self._BOUND_ADDON_FORM: form},
        )
        response["Cache-Control"] = "no-store"
        return response

    # --- extra pages ------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/secret/reveal/",
                view(self.reveal_secret),
                name="tenantauth_application_revealsecret",
            ),
            path(
                "<int:pk>/secret/rotate/",
                view(self.rotate_secret),
                name="tenantauth_application_rotatesecret",
            ),
            path("<int:pk>/try-it/", view(self.try_it), name="tenantauth_application_tryit"),
            path(
                "<int:pk>/try-it/users/",
                view(self.try_it_users),
                name="tenantauth_application_tryitusers",
            ),
            path(
                "<int:pk>/certificate.pem",
                view(self.certificate_pem),
                name="tenantauth_application_certificate",
            ),
            *super().get_urls(),
        ]

    def _get_scoped(self, request, pk, *, write=True):
        obj = self.get_queryset(request).select_related("tenant").filter(pk=pk).first()
        if obj is None:
            raise PermissionDenied
        if write:
            self._require_write(request, obj)
        elif not self.has_view_permission(request, obj):
            raise PermissionDenied
        return obj

    def _change_url(self, app) -> str:
        return reverse("admin:tenantauth_application_change", args=[app.pk])

    def _secret_page(self, request, app, *, secret=None, form=None, title):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "original": app,
            "opts": self.opts,
            "secret": secret,
            "form": form,
        }
        response = TemplateResponse(request, "admin/tenantauth/application/secret.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def reveal_secret(self, request, pk):
        """POST only (a GET goes back to the page): show the secret to an admin of this
        tenant, recorded in the audit log. ``Accept: application/json`` (the page's script)
        gets ``{"client_secret": ...}``; a plain form post gets the secret page."""
        app = self._get_scoped(request, pk)
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(app))
        secret = services.application_reveal_secret(application=app, actor=request.user)
        if request.headers.get("Accept", "").startswith("application/json"):
            response = JsonResponse({"client_secret": secret})
            response["Cache-Control"] = "no-store"
            return response
        return self._secret_page(request, app, secret=secret, title=f"Client secret of {app.name}")

    @sensitive
    def rotate_secret(self, request, pk):
        app = self._get_scoped(request, pk)
        form = ClientSecretForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            chosen = form.cleaned_data["new_secret"]
            try:
                secret = services.application_rotate_secret(
                    application=app, actor=request.user, secret=chosen or None
                )
            except ValidationError as exc:
                form.add_error("new_secret", exc)
            else:
                self.log_change(request, app, "Rotated the client secret.")
                return self._secret_page(
                    request, app, secret=secret, title=f"New client secret of {app.name}"
                )
        return self._secret_page(request, app, form=form, title=f"Rotate the secret of {app.name}")

    def certificate_pem(self, request, pk):
        app = self._get_scoped(request, pk, write=False)
        key = app.tenant.active_signing_key
        if key is None:
            raise Http404("no active signing key")
        cert = certificates.signing_certificate(tenant=app.tenant, key=key)
        response = HttpResponse(cert.pem, content_type="application/x-pem-file")
        response["Content-Disposition"] = f'attachment; filename="{app.tenant.slug}.pem"'
        return response

    def try_it(self, request, pk):
        """Decide and preview a delegation to this application (POST, audited as a preview)."""
        target = self._get_scoped(request, pk)
        tenant = target.tenant
        form = DelegationTryItForm(
            request.POST if request.method == "POST" else None,
            tenant=tenant,
            initial={"source": self._default_source(target)},
        )
        result = error = None
        if request.method == "POST" and form.is_valid():
            try:
                result = preview.delegation_preview_run(
                    tenant=tenant,
                    actor=request.user,
                    source=form.cleaned_data["source"],
                    target=target,
                    user=form.cleaned_data["user"],
                    scope=form.cleaned_data["scope"],
                    api_type=form.cleaned_data["api_type"],
                )
            except signing.KeyUnavailableError:
                error = "The tenant has no usable signing key: RS256 tokens cannot be issued."
        context = {
            **self.admin_site.each_context(request),
            "title": f"Try it: delegation to {target.name}",
            "original": target,
            "opts": self.opts,
            "form": form,
            "result": result,
            "error": error,
            "header_json": json.dumps(result.preview.header, indent=2)
            if result and result.preview
            else "",
            "claims_json": json.dumps(result.preview.claims, indent=2)
            if result and result.preview
            else "",
            "users_url": reverse("admin:tenantauth_application_tryitusers", args=[target.pk]),
        }
        response = TemplateResponse(request, "admin/tenantauth/application/try_it.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @staticmethod
    def _default_source(target):
        listed = [c for c in target.allowed_clients if c != target.client_id]
        if listed:
            return (
                Application.objects.filter(tenant=target.tenant, client_id=listed[0])
                .values_list("pk", flat=True)
                .first()
            )
        return target.pk

    TRY_IT_SUGGESTIONS = 10

    def try_it_users(self, request, pk):
        """``GET ?q=<prefix>``: up to 10 of this tenant's users whose e-mail or user_id starts
        with the prefix, as ``{"results": [{"email", "user_id", "name"}]}`` (the try-it
        form's suggestions)."""
        target = self._get_scoped(request, pk)
        query = request.GET.get("q", "").strip()[:254]
        users = []
        if query:
            users = list(
                TenantUser.objects.filter(tenant=target.tenant)
                .filter(Q(email__istartswith=query) | Q(user_id__startswith=query))
                .order_by("email")
                .values("email", "user_id", "name")[: self.TRY_IT_SUGGESTIONS]
            )
        response = JsonResponse({"results": users})
        response["Cache-Control"] = "no-store"
        return response


# --- tenant users ----------------------------------------------------------------------------
@admin.register(TenantUser)
class TenantUserAdmin(TenantScopedModelAdmin):
    list_display = ["email", "user_id", "name", "connection", "blocked", "last_login"]
    list_filter = ["blocked", "email_verified", "connection"]
    search_fields = ["email", "user_id", "name", "nickname"]
    readonly_fields = ["user_id", "username", "created_at", "updated_at", "last_login"]
    fields = [
        "user_id",
        "connection",
        "email",
        "email_verified",
        "username",
        "name",
        "given_name",
        "family_name",
        "nickname",
        "picture",
        "user_metadata",
        "app_metadata",
        "blocked",
        "created_at",
        "updated_at",
        "last_login",
    ]
    actions = ["block_users", "unblock_users"]
    change_form_template = "admin/tenantauth/tenantuser/change_form.html"

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = TenantUserCreationForm
            # ``password`` is the form's own field: naming it here would name the model's
            # non-editable hash column, which the form factory refuses (the add page's 500).
            kwargs["fields"] = ["email", "email_verified", "name", "nickname", "picture", "blocked"]
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["email", "password", "email_verified", "name", "nickname", "picture", "blocked"]
        return super().get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            changes = {field: form.cleaned_data[field] for field in form.changed_data}
            services.tenant_user_update(user=obj, **changes)
            return
        tenant = tenant_context(request).tenant
        if tenant is None:
            raise PermissionDenied("Choose a tenant in the switcher first.")
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("email", "password")}
        created = services.tenant_user_create(
            tenant=tenant,
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            **data,
        )
        obj.pk = created.pk

    @admin.action(description="Block selected users", permissions=["change"])
    def block_users(self, request, queryset):
        for user in queryset:  # already scoped by get_queryset
            services.tenant_user_set_blocked(user=user, blocked=True)

    @admin.action(description="Unblock selected users", permissions=["change"])
    def unblock_users(self, request, queryset):
        for user in queryset:
            services.tenant_user_set_blocked(user=user, blocked=False)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:pk>/password/",
                view(self.reset_password),
                name="tenantauth_tenantuser_password",
            ),
            *super().get_urls(),
        ]

    @sensitive
    def reset_password(self, request, pk):
        user = self.get_queryset(request).filter(pk=pk).first()
        if user is None:
            raise PermissionDenied
        self._require_write(request, user)
        form = TenantUserPasswordForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            services.tenant_user_set_password(user=user, password=form.cleaned_data["password1"])
            self.log_change(request, user, "Reset the password.")
            messages.success(request, "Password changed.")
            return HttpResponseRedirect(
                reverse("admin:tenantauth_tenantuser_change", args=[user.pk])
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reset the password of {user.email}",
            "form": form,
            "original": user,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/tenantauth/form_page.html", context)


@admin.register(Connection)
class ConnectionAdmin(TenantScopedModelAdmin):
    list_display = ["name", "password_min_length"]


@admin.register(SigningKey)
class SigningKeyAdmin(TenantScopedModelAdmin):
    list_display = ["kid", "status", "created_at", "retired_at", "verify_until"]
    list_filter = ["status"]
    fields = ["kid", "status", "public_jwk", "created_at", "retired_at", "verify_until"]
    readonly_fields = fields
    # Read-only for everybody (roles): keys are made by rotation and import on the tenant page.


# --- platform accounts -----------------------------------------------------------------------
# Django's own pages for platform accounts, under the same rules as every other page.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class PlatformUserAdmin(LockedDownAdminMixin, UserAdmin):
    pass


@admin.register(Group)
class PlatformGroupAdmin(LockedDownAdminMixin, GroupAdmin):
    pass


# --- system checks: no page opts out -----------------------------------------------------------
_GUARDED_METHODS = (
    "has_module_permission",
    "has_view_permission",
    "has_add_permission",
    "has_change_permission",
    "has_delete_permission",
    "lookup_allowed",
    "get_changelist",
)


def _field_name(entry: str) -> str:
    return entry.lstrip("-=^@").split(LOOKUP_SEP)[-1]


def admin_page_errors(site=None) -> list[checks.CheckMessage]:
    """What breaks the rules of this module, for every page registered on ``site``."""
    site = site or admin.site
    errors = []
    for model, page in site._registry.items():
        label = model._meta.label_lower
        where = f"{type(page).__module__}.{type(page).__qualname__}"
        if not isinstance(page, LockedDownAdminMixin):
            errors.append(
                checks.Error(
                    f"{where} must derive from tenantauth.admin.LockedDownAdminMixin "
                    "(usually through TenantScopedModelAdmin).",
                    id="tenantauth.E010",
                )
            )
            continue
        for name in _GUARDED_METHODS:
            if getattr(type(page), name) is not getattr(LockedDownAdminMixin, name):
                errors.append(
                    checks.Error(
                        f"{where} overrides {name}(): rights come from tenantauth.roles and "
                        "lookups from the declared filters only.",
                        id="tenantauth.E011",
                    )
                )
        if label not in roles.RIGHTS:
            errors.append(
                checks.Error(
                    f"{label} has an admin page but no row in tenantauth.roles.RIGHTS.",
                    id="tenantauth.E012",
                )
            )
        errors += _sensitive_column_errors(page, where)
    return errors


def _sensitive_column_errors(page, where: str) -> list[checks.CheckMessage]:
    exposed = []
    for option in ("list_display", "list_filter", "ordering", "sortable_by", "list_editable"):
        for entry in getattr(page, option, None) or ():
            name = entry[0] if isinstance(entry, (list, tuple)) else entry
            if isinstance(name, str) and is_sensitive_field(_field_name(name)):
                exposed.append(f"{option}: {name}")
    if page.date_hierarchy and is_sensitive_field(_field_name(page.date_hierarchy)):
        exposed.append(f"date_hierarchy: {page.date_hierarchy}")
    for entry in page.search_fields or ():
        name = _field_name(entry)
        exact_fingerprint = entry.startswith("=") and name.endswith("_fingerprint")
        if is_sensitive_field(name) and not exact_fingerprint:
            exposed.append(f"search_fields: {entry}")
    return [
        checks.Error(f"{where} exposes a sensitive column ({item}).", id="tenantauth.E013")
        for item in exposed
    ]


@checks.register(checks.Tags.admin, checks.Tags.security)
def check_admin_pages(app_configs=None, **kwargs):
    return admin_page_errors()
