from django.urls import path
from oauth2_provider.views import TokenView

from bench.bare.views import ideal_delegation

urlpatterns = [
    path("ideal/delegation", ideal_delegation),
    path("o/token/", TokenView.as_view()),
]
