"""The audit console: the audit log's pages inside the tenant-scoped admin.

Built the way Django's ``UserAdmin`` builds its password page: ``get_urls()`` adds views,
each wrapped in ``admin_site.admin_view`` (login, staff, membership) and checked with
``has_view_permission`` (the tenant's admins and auditors, platform staff across tenants).
Nobody can add, change or delete a row here.

- ``/admin/delegation/auditevent/``: the list (filters, keyset pages, estimate, seal status);
- ``.../<id>/change/``: the detail page of one row (read-only);
- ``.../find/``: find a token (POST, CSRF, ``Cache-Control: no-store``);
- ``.../export/?format=csv|jsonl&<filter>``: streamed export of the filter (audited);
- ``.../chart/`` and ``.../chart.json``: issuances and failures over time.

Every view validates its GET parameters with ``AuditFilterForm`` and answers 400 on bad
input; only declared filters reach the ORM.
"""

import json

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import (
    HttpResponseBadRequest,
    HttpResponseNotAllowed,
    JsonResponse,
    StreamingHttpResponse,
)
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from delegation.audit import export, sealing, selectors
from delegation.audit.forms import AuditFilterForm, TokenSearchForm
from delegation.audit.services import audit_export_record
from delegation.models import AuditEvent, AuditVerification
from tenantauth.admin import TenantScopedModelAdmin
from tenantauth.admin_site import tenant_context
from tenantauth.models import Application, Tenant, TenantUser

TEMPLATES = "admin/delegation/auditevent"


def _bad_request(form) -> HttpResponseBadRequest:
    # The field names only: the values may be what an attacker sent.
    fields = ", ".join(sorted(form.errors)) or "request"
    return HttpResponseBadRequest(
        f"Invalid audit filter ({fields}).".encode(), content_type="text/plain; charset=utf-8"
    )


@admin.register(AuditEvent)
class AuditEventAdmin(TenantScopedModelAdmin):
    # The stock changelist is replaced by the console; these stay for Django's checks.
    list_display = ["created_at", "type"]
    actions = None

    # Read-only for everybody: ``tenantauth.roles.RIGHTS`` grants only "view" on audit rows.

    # --- scope ---------------------------------------------------------------------------
    def _tenants(self, request) -> list[Tenant]:
        """The tenants this request may read: the active one, or all for platform staff."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        ctx = tenant_context(request)
        if ctx.tenant is not None:
            return [ctx.tenant]
        if ctx.is_platform_staff:
            return list(Tenant.objects.order_by("slug"))
        raise PermissionDenied

    def _filter_form(self, request, tenants):
        return AuditFilterForm(request.GET, tenants=tenants)

    def _context(self, request, tenants, **extra):
        ctx = tenant_context(request)
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "tenants": tenants,
            "all_tenants": ctx.tenant is None,
            "is_nav_sidebar_enabled": False,  # the console needs the full 1366 px
            **extra,
        }

    def _may_view(self, request, model, obj) -> bool:
        model_admin = self.admin_site._registry.get(model)
        return bool(model_admin and model_admin.has_view_permission(request, obj))

    # --- URLs ------------------------------------------------------------------------------
    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("find/", view(self.find_view), name="delegation_auditevent_find"),
            path("export/", view(self.export_view), name="delegation_auditevent_export"),
            path("chart/", view(self.chart_view), name="delegation_auditevent_chart"),
            path("chart.json", view(self.chart_data_view), name="delegation_auditevent_chartdata"),
            *super().get_urls(),
        ]

    # --- list ------------------------------------------------------------------------------
    def changelist_view(self, request, extra_context=None):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        tenants = self._tenants(request)
        form = self._filter_form(request, tenants)
        if not form.is_valid() or form.cleaned_data.get("format"):
            return _bad_request(form)
        audit_filter = form.audit_filter()
        page = selectors.audit_page(
            tenants=tenants,
            audit_filter=audit_filter,
            older_than=form.cleaned_data["older_cursor"],
            newer_than=form.cleaned_data["newer_cursor"],
        )
        estimate = None
        if len(tenants) == 1:
            estimate = selectors.audit_count_estimate(
                selectors.audit_events_filter(tenants=tenants, audit_filter=audit_filter)
            )
        rows = self._decorate(request, tenants, page.rows)
        verifications = self._last_verifications(tenants)
        context = self._context(
            request,
            tenants,
            title="Audit log",
            form=form,
            rows=rows,
            estimate=estimate,
            newer_query=form.filter_query(newer=page.newer.encode()) if page.newer else "",
            older_query=form.filter_query(older=page.older.encode()) if page.older else "",
            filter_query=form.filter_query(),
            filtered=not audit_filter.is_empty(),
            verifications=verifications,
        )
        return TemplateResponse(request, f"{TEMPLATES}/console.html", context)

    def _decorate(self, request, tenants, rows):
        names = selectors.application_names(
            tenants=tenants,
            client_ids={r.source_client_id for r in rows} | {r.target_client_id for r in rows},
        )
        emails = selectors.user_emails(tenants=tenants, user_ids={r.user_id for r in rows})
        status = sealing.row_seal_status(rows=rows)
        slugs = {t.pk: t.slug for t in tenants}
        decorated = []
        for row in rows:
            decorated.append(
                {
                    "event": row,
                    "tenant_slug": slugs.get(row.tenant_id, ""),
                    "source_name": names.get((row.tenant_id, row.source_client_id), ""),
                    "target_name": names.get((row.tenant_id, row.target_client_id), ""),
                    "user_email": emails.get((row.tenant_id, row.user_id), ""),
                    "seal": status.get(row.id, ("not yet sealed", "")),
                    "url": reverse("admin:delegation_auditevent_change", args=[row.pk]),
                }
            )
        return decorated

    def _last_verifications(self, tenants):
        found = []
        for tenant in tenants[:50]:
            last = AuditVerification.objects.filter(tenant=tenant).order_by("-verified_at").first()
            if last is not None:
                found.append({"tenant": tenant, "verification": last})
        return found

    # --- detail ----------------------------------------------------------------------------
    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method != "GET":
            raise PermissionDenied
        tenants = self._tenants(request)
        event = None
        if str(object_id).isdigit():
            event = AuditEvent.objects.filter(
                tenant__in=[t.pk for t in tenants], pk=int(object_id)
            ).first()
        if event is None or not self.has_view_permission(request, event):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = self._context(
            request,
            tenants,
            title=f"Audit event {event.pk}",
            event=event,
            **self._detail(request, event),
        )
        return TemplateResponse(request, f"{TEMPLATES}/detail.html", context)

    def _app_link(self, request, tenant_id, client_id):
        app = Application.objects.filter(tenant_id=tenant_id, client_id=client_id).first()
        if app is None:
            return {"name": "", "client_id": client_id, "url": ""}
        url = ""
        if self._may_view(request, Application, app):
            url = reverse("admin:tenantauth_application_change", args=[app.pk])
        return {"name": app.name, "client_id": client_id, "url": url}

    def _detail(self, request, event):
        user = TenantUser.objects.filter(tenant_id=event.tenant_id, user_id=event.user_id).first()
        user_url = ""
        if user is not None and self._may_view(request, TenantUser, user):
            user_url = reverse("admin:tenantauth_tenantuser_change", args=[user.pk])
        actor, actor_url = None, ""
        if event.actor_id:
            actor = get_user_model().objects.filter(pk=event.actor_id).first()
            if actor is not None and self._may_view(request, get_user_model(), actor):
                try:
                    actor_url = reverse("admin:auth_user_change", args=[actor.pk])
                except NoReverseMatch:
                    actor_url = ""
        changes = []
        details = event.details if isinstance(event.details, dict) else {}
        raw_changes = details.get("changes")
        if isinstance(raw_changes, dict):
            for name, pair in raw_changes.items():
                if isinstance(pair, list | tuple) and len(pair) == 2:
                    changes.append({"field": name, "before": pair[0], "after": pair[1]})
                else:
                    changes.append({"field": name, "before": "", "after": pair})
        other = {k: v for k, v in details.items() if k != "changes"}
        status = sealing.row_seal_status(rows=[event]).get(event.pk, ("not yet sealed", ""))
        return {
            "source": self._app_link(request, event.tenant_id, event.source_client_id)
            if event.source_client_id
            else None,
            "target": self._app_link(request, event.tenant_id, event.target_client_id)
            if event.target_client_id
            else None,
            "tenant_user": user,
            "user_url": user_url,
            "actor": actor,
            "actor_url": actor_url,
            "changes": changes,
            "other_details": json.dumps(other, indent=2, sort_keys=True) if other else "",
            "seal": status,
        }

    # --- find a token ----------------------------------------------------------------------
    @method_decorator(sensitive_post_parameters("token"))
    def find_view(self, request):
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        tenants = self._tenants(request)
        finding, rows = None, []
        form = TokenSearchForm()
        if request.method == "POST":
            submitted = TokenSearchForm(request.POST)
            if submitted.is_valid():
                finding = selectors.audit_token_find(
                    tenants=tenants, value=submitted.cleaned_data["token"]
                )
                rows = self._decorate(request, tenants, finding.events)
            else:
                form = submitted
                form.data = {}  # never echo the pasted value back
        elif request.GET:
            return HttpResponseBadRequest(b"Unknown parameter.", content_type="text/plain")
        decoded = {}
        if finding is not None and finding.jwt_header is not None:
            decoded = {
                "header_json": json.dumps(finding.jwt_header, indent=2, sort_keys=True),
                "claims_json": json.dumps(finding.jwt_claims, indent=2, sort_keys=True),
            }
        context = self._context(
            request,
            tenants,
            title="Find a token",
            form=form,
            finding=finding,
            rows=rows,
            **decoded,
        )
        response = TemplateResponse(
            request, f"{TEMPLATES}/find.html", context, status=400 if form.errors else 200
        )
        response["Cache-Control"] = "no-store"
        return response

    # --- export ----------------------------------------------------------------------------
    def export_view(self, request):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        tenants = self._tenants(request)
        form = self._filter_form(request, tenants)
        if (
            not form.is_valid()
            or form.cleaned_data.get("format") not in ("csv", "jsonl")
            or form.cleaned_data["older_cursor"]
            or form.cleaned_data["newer_cursor"]
        ):
            return _bad_request(form)
        audit_filter = form.audit_filter()
        kind = form.cleaned_data["format"]
        audit_export_record(
            tenants=tenants, actor=request.user, format=kind, filters=form.active_filters()
        )
        if kind == "csv":
            stream = export.csv_stream(tenants=tenants, audit_filter=audit_filter)
            content_type = "text/csv; charset=utf-8"
        else:
            stream = export.jsonl_stream(tenants=tenants, audit_filter=audit_filter)
            content_type = "application/x-ndjson; charset=utf-8"
        response = StreamingHttpResponse(stream, content_type=content_type)
        name = tenants[0].slug if len(tenants) == 1 else "all-tenants"
        response["Content-Disposition"] = f'attachment; filename="audit-{name}.{kind}"'
        response["Cache-Control"] = "no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response

    # --- chart -----------------------------------------------------------------------------
    def _chart(self, request):
        tenants = self._tenants(request)
        form = self._filter_form(request, tenants)
        if (
            not form.is_valid()
            or form.cleaned_data.get("format")
            or form.cleaned_data["older_cursor"]
            or form.cleaned_data["newer_cursor"]
        ):
            return tenants, form, None
        return (
            tenants,
            form,
            selectors.audit_chart(tenants=tenants, audit_filter=form.audit_filter()),
        )

    @staticmethod
    def _chart_json(data) -> dict:
        return {
            "since": data.since.isoformat(),
            "until": data.until.isoformat(),
            "bucket": data.bucket,
            "buckets": data.buckets,
            "series": data.series,
        }

    def chart_view(self, request):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        tenants, form, data = self._chart(request)
        if data is None:
            return _bad_request(form)
        rows = [
            {"bucket": bucket, "counts": [s["counts"][i] for s in data.series]}
            for i, bucket in enumerate(data.buckets)
            if any(s["counts"][i] for s in data.series)
        ]
        context = self._context(
            request,
            tenants,
            title="Audit chart",
            form=form,
            chart=data,
            chart_json=self._chart_json(data),
            table_rows=rows,
            filter_query=form.filter_query(),
        )
        return TemplateResponse(request, f"{TEMPLATES}/chart.html", context)

    def chart_data_view(self, request):
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        _, form, data = self._chart(request)
        if data is None:
            return _bad_request(form)
        return JsonResponse(self._chart_json(data))
