"""Tenant-facing endpoints of the delegation app (mounted under /t/<slug>/)."""

from django.urls import path

from delegation.apis import DelegationApi

urlpatterns = [
    path("delegation", DelegationApi.as_view(), name="delegation"),
]
