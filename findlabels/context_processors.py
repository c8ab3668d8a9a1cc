from __future__ import annotations

from functools import cache

from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import reverse


@cache
def _site_links() -> dict[str, str]:
    # The same on every page; reversing them per request showed in profiles.
    return {
        "gallery": reverse("gallery:index"),
        "labels": reverse("gallery:labels"),
        "suggest": reverse("gallery:suggest"),
        "tokens": reverse("accounts:tokens"),
        "search_js": static("js/search.js"),
        "upload": reverse("gallery:upload"),
        "admin": reverse("admin:index"),
        "login": reverse("account_login"),
        "signup": reverse("account_signup"),
        "logout": reverse("account_logout"),
        "css": static("css/app.css"),
        "logo": static("img/logo.svg"),
    }


def site_links(request: HttpRequest) -> dict[str, dict[str, str]]:
    return {"links": _site_links()}
