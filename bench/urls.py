from django.urls import include, path

from bench.reference import reference_delegation

urlpatterns = [
    path("bench/t/<slug:tenant_slug>/reference", reference_delegation),
    path("", include("tenantauth.urls")),
]
