from django.urls import path

from bench.reference import reference_delegation
from tenantauth.urls import handler500  # noqa: F401
from tenantauth.urls import urlpatterns as project_urlpatterns

# The project's routes as they are (no extra include level in front of them), then the
# in-project reference view.
urlpatterns = [
    *project_urlpatterns,
    path("bench/t/<slug:tenant_slug>/reference", reference_delegation),
]
