from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from gallery.views import healthz

admin.site.site_header = "Find the Labels moderation"
admin.site.site_title = "Find the Labels"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("healthz", healthz, name="healthz"),
    path("", include("gallery.urls")),
]
