from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class TenantAuthConfig(AppConfig):
    name = "tenantauth"
    verbose_name = "Tenants and applications"

    def ready(self):
        # CORS for the token endpoints is decided per request (tenantauth.oidc.cors).
        from corsheaders.signals import check_request_enabled

        from tenantauth.oidc.cors import cors_request_allowed

        check_request_enabled.connect(cors_request_allowed, dispatch_uid="tenantauth-cors")


class TenantAuthAdminConfig(AdminConfig):
    """Replaces the default admin site with the tenant-scoped one."""

    default_site = "tenantauth.admin_site.TenantAdminSite"
