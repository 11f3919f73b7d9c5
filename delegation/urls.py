"""Tenant-facing endpoints of the delegation app (filled by the delegation issue)."""

urlpatterns = []
