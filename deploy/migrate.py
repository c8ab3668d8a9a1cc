"""``manage.py migrate``, once, even when several instances boot together.

An Auto Scaling group starts its instances at the same time, and each runs
bootstrap.sh. Two ``migrate`` runs racing on one PostgreSQL database can both
try to create the same table. Here each takes a PostgreSQL advisory lock
first: the first migrates, the others wait and then find nothing to do.
SQLite lives on one instance, so it needs no lock.

Run with the app's environment: ``venv/bin/python deploy/migrate.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR = Path(__file__).resolve().parent.parent
# Any number every instance of this app agrees on; the bytes spell "FLAB".
LOCK_ID = 0x464C4142


def main() -> None:
    sys.path.insert(0, str(APP_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "findlabels.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        call_command("migrate", interactive=False)
        return
    # A session-level lock, held on the same connection migrate uses; if the
    # process dies, PostgreSQL releases it with the connection.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_ID])
    try:
        call_command("migrate", interactive=False)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])


if __name__ == "__main__":
    main()
