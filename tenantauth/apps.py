from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class TenantAuthConfig(AppConfig):
    name = "tenantauth"
    verbose_name = "Tenants and applications"


class TenantAuthAdminConfig(AdminConfig):
    """Replaces the default admin site with the tenant-scoped one."""

    default_site = "tenantauth.admin_site.TenantAdminSite"
