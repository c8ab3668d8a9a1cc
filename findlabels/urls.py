from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path, re_path

from gallery.api import api, api_not_found
from gallery.views import healthz, healthz_live

admin.site.site_header = "Find the Labels moderation"
admin.site.site_title = "Find the Labels"


def build_urlpatterns(auth: str) -> list[URLPattern | URLResolver]:
    """The site's URLs for an accounts mode (``settings.FINDLABELS_AUTH``).

    In Cognito mode its own pages take allauth's place at /accounts/, under
    allauth's URL names; allauth stays installed but unrouted. Tests build the
    Cognito variant directly, without reloading this module.
    """
    accounts = "accounts.cognito.urls" if auth == "cognito" else "allauth.urls"
    return [
        path("admin/", admin.site.urls),
        path("accounts/", include(accounts)),
        path("healthz", healthz, name="healthz"),
        path("healthz/live", healthz_live, name="healthz_live"),
        path("api/v1/", api.urls),
        re_path(r"^api/v1/(?P<path>.*)$", api_not_found),
        path("", include("accounts.urls")),
        path("", include("gallery.urls")),
    ]


urlpatterns = build_urlpatterns(settings.FINDLABELS_AUTH)
