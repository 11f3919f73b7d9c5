"""Admin pages for add-on configurations, scoped like every other page.

The list shows each application's add-ons (on/off, secrets "set"/"not set", never a value).
"Add" first asks for the application and the add-on, then shows that add-on's own form
(``addons.forms``); an existing row opens the same form, and so do the cards of an
application page's Add-ons tab (``tenantauth.admin.ApplicationAdmin``), which post to the same
configure view: one path for checks, saving and history. Tenant admins (and platform staff)
save through ``addons.services.addon_configure`` (validated, encrypted, audited); auditors see
the settings read-only. Secrets are never rendered, not even after a failed submission, and
the history (``LogEntry``) names changed fields only.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from addons import registry, selectors, services
from addons.models import AddonConfiguration
from tenantauth.admin import ApplicationAdmin, TenantScopedModelAdmin
from tenantauth.admin_site import tenant_context
from tenantauth.models import Application

sensitive = method_decorator(sensitive_post_parameters())


class AddonChoiceForm(forms.Form):
    """Step one of "Add": which application, which add-on."""

    application = forms.ModelChoiceField(queryset=Application.objects.none())
    addon = forms.ChoiceField(label="Add-on", choices=registry.CHOICES)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        # Platform staff in "All tenants" (tenant None) pick among every tenant's apps; the
        # configuration then belongs to the chosen application's tenant.
        apps = Application.objects.select_related("tenant")
        self.fields["application"].queryset = (
            apps.filter(tenant=tenant) if tenant is not None else apps.order_by("tenant__slug")
        )


@admin.register(AddonConfiguration)
class AddonConfigurationAdmin(TenantScopedModelAdmin):
    list_display = ["application", "addon_name", "enabled", "credentials_state", "updated_at"]
    list_filter = ["addon", "enabled", "application"]
    search_fields = ["application__name", "=application__client_id"]
    list_select_related = ["application"]

    @admin.display(description="Add-on", ordering="addon")
    def addon_name(self, obj):
        spec = registry.SPECS.get(obj.addon)
        return spec.display_name if spec else obj.addon

    @admin.display(description="Secrets")
    def credentials_state(self, obj):
        # Only whether each secret is stored: never a value, length or fingerprint.
        spec = registry.SPECS.get(obj.addon)
        names = spec.form_class.SECRETS if spec else ()
        return ", ".join(
            f"{name}: {'set' if name in obj.secret_names else 'not set'}" for name in names
        )

    # No delete (tenantauth.roles): switching an add-on off is the way to stop it, and rows go
    # with their application. The ciphertext is never filterable (the base class's guard).

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "configure/<int:app_pk>/<str:addon>/",
                view(self.configure_view),
                name="addons_addonconfiguration_configure",
            ),
            *super().get_urls(),
        ]

    # --- views --------------------------------------------------------------------------------
    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        tenant = tenant_context(request).tenant  # None only for platform staff (all tenants)
        form = AddonChoiceForm(request.GET if "addon" in request.GET else None, tenant=tenant)
        if form.is_valid():
            return HttpResponseRedirect(
                reverse(
                    "admin:addons_addonconfiguration_configure",
                    args=[form.cleaned_data["application"].pk, form.cleaned_data["addon"]],
                )
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Add an add-on",
            "form": form,
            "opts": self.opts,
        }
        return TemplateResponse(request, "admin/addons/choose.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        return self.configure_view(request, obj.application_id, obj.addon)

    def _application(self, request, app_pk: int) -> Application:
        ctx = tenant_context(request)
        apps = Application.objects.select_related("tenant")
        if ctx.tenant is not None:
            apps = apps.filter(tenant=ctx.tenant)
        elif not ctx.is_platform_staff:
            apps = apps.none()
        app = apps.filter(pk=app_pk).first()
        if app is None:  # unknown, or another tenant's: the same answer
            raise PermissionDenied
        return app

    @sensitive
    def configure_view(self, request, app_pk, addon):
        """One add-on of one application: its form, read-only for auditors.

        Posts come from this page or from the add-on's card on the application's Add-ons tab
        (they carry ``ApplicationAdmin.ADDON_TAB_FIELD``). Both are checked and saved here,
        through ``addons.services.addon_configure``; only the answer differs: after a save,
        the add-on list or the card on the application page; after a refusal, this page or
        the application page, with the errors next to their fields either way.
        """
        spec = registry.SPECS.get(addon)
        if spec is None or not self.has_view_permission(request):
            raise PermissionDenied
        application = self._application(request, app_pk)
        tenant = application.tenant
        config = selectors.addon_configuration_find(
            tenant=tenant, application=application, addon=addon
        )
        can_write = self.has_change_permission(request, config)
        if request.method == "POST" and not can_write:
            raise PermissionDenied
        from_tab = request.method == "POST" and ApplicationAdmin.ADDON_TAB_FIELD in request.POST
        form = spec.form_class(
            request.POST if request.method == "POST" else None,
            configuration=config,
            auto_id=ApplicationAdmin.addon_auto_id(addon) if from_tab else "id_%s",
        )
        if not can_write:
            for field in form.fields.values():
                field.disabled = True
        if request.method == "POST" and form.is_valid():
            try:
                saved = services.addon_configure(
                    tenant=tenant,
                    application=application,
                    addon=addon,
                    enabled=form.cleaned_data["enabled"],
                    settings=form.settings_values(),
                    secrets=form.typed_secrets(),
                    actor=request.user,
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(None if field not in form.fields else field, errors)
            else:
                summary = services.addon_change_summary(saved.change_details)
                if config is None:
                    self.log_addition(request, saved, summary)
                else:
                    self.log_change(request, saved, summary)
                messages.success(request, f"{spec.display_name} on {application.name}: {summary}")
                if from_tab:
                    return HttpResponseRedirect(
                        self._application_page().addon_card_url(application, addon)
                    )
                return HttpResponseRedirect(reverse("admin:addons_addonconfiguration_changelist"))
        if from_tab:
            return self._application_page().addon_tab_response(request, application, form)
        context = {
            **self.admin_site.each_context(request),
            "title": f"{spec.display_name} on {application.name}",
            "form": form,
            "fieldsets": [
                (spec.display_name, [form["enabled"]]),
                ("Settings", [form[name] for name in form.SETTINGS]),
                ("Secrets", [form[name] for name in form.SECRETS]),
            ],
            "spec": spec,
            "application": application,
            "original": config,
            "opts": self.opts,
            "can_write": can_write,
            "application_tab_url": self._application_page().addon_card_url(application, addon),
        }
        response = TemplateResponse(request, "admin/addons/configure.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def _application_page(self) -> ApplicationAdmin:
        return self.admin_site.get_model_admin(Application)
