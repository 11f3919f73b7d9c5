"""URL map: the admin at /admin/, every tenant-facing endpoint under /t/<slug>/."""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import include, path

# /delegation first: the busiest route is matched without trying the admin's and the sign-in
# endpoints' patterns first (no path is shared, so the order changes nothing else).
urlpatterns = [
    path("t/<slug:tenant_slug>/", include("delegation.urls")),
    path("", lambda request: HttpResponseRedirect("/admin/")),
    path("admin/", admin.site.urls),
    path("t/<slug:tenant_slug>/", include("tenantauth.oidc.urls")),
]

# An outage that escapes a view or happens in a middleware is a 503 with Retry-After.
handler500 = "tenantauth.outages.server_error"
