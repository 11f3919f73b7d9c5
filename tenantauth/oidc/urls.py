"""Sign-in endpoints under /t/<slug>/ (the Auth0 Authentication API paths)."""

from django.urls import path

from tenantauth.oidc import apis, views

app_name = "oidc"

urlpatterns = [
    path("authorize", views.authorize, name="authorize"),
    path("v2/logout", views.logout, name="logout"),
    path("oidc/logout", views.logout, name="end_session"),
    path("oauth/token", apis.token, name="token"),
    path("dbconnections/signup", apis.signup, name="signup"),
    path("userinfo", apis.userinfo, name="userinfo"),
    path(".well-known/openid-configuration", apis.openid_configuration, name="discovery"),
    path(".well-known/jwks.json", apis.jwks, name="jwks"),
]
