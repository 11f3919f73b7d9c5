"""Sign-in endpoints under /t/<slug>/ (the Auth0 Authentication API paths)."""

urlpatterns = []
