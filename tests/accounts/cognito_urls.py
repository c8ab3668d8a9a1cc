"""The site's URLs in Cognito mode, for tests that switch FINDLABELS_AUTH at run time."""

from __future__ import annotations

from findlabels.urls import build_urlpatterns

urlpatterns = build_urlpatterns("cognito")
