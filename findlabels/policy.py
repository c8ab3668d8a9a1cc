"""The site's one Content-Security-Policy, for django-csp's CONTENT_SECURITY_POLICY.

nginx passes it through and sends a copy of it with what it serves itself
(deploy/nginx.conf); tests/deploy/test_csp.py keeps the two the same.
"""

from __future__ import annotations

from typing import Any

from csp.constants import NONE, SELF


def content_security_policy(media_origins: list[str]) -> dict[str, Any]:
    """Scripts and styles from the site only, no inline code; images also from the bucket."""
    return {
        "DIRECTIVES": {
            "default-src": [SELF],
            # Presigned media URLs (AWS mode) point at the bucket.
            "img-src": [SELF, *media_origins],
            "style-src": [SELF],
            "script-src": [SELF],
            "object-src": [NONE],
            "base-uri": [SELF],
            "form-action": [SELF],
            "frame-ancestors": [NONE],
        }
    }
