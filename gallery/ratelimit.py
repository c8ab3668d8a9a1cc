"""Per-user limits on actions that cost money or CPU, kept in Django's cache.

A fixed window per user per minute: simple, and the worst case (a burst at
the end of one window and the start of the next) is twice the limit, which
is fine for keeping one person from running up the Rekognition bill.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

WINDOW_SECONDS = 60


def allow_detect(user_id: int) -> bool:
    """Count one Detect for this user; False once they are over the limit this minute."""
    return allow(f"detect:{user_id}", settings.FINDLABELS_DETECT_RATE_PER_MINUTE)


def allow(action: str, limit: int, window_seconds: int = WINDOW_SECONDS) -> bool:
    """Count one use of ``action``; True while the count in this window is within ``limit``."""
    window = int(time.time() // window_seconds)
    key = f"ratelimit:{action}:{window}"
    # add() only writes when the key is missing, so two first requests cannot
    # reset each other's count; incr() is atomic in the shared cache backends.
    # The key outlives its window a little so clock skew between workers
    # cannot end it early.
    cache.add(key, 0, timeout=window_seconds + 5)
    try:
        count = cache.incr(key)
    except ValueError:
        # The key was evicted between add() and incr(): this is its first use.
        cache.set(key, 1, timeout=window_seconds + 5)
        count = 1
    return count <= limit
