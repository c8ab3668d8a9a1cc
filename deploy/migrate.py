"""``manage.py migrate`` once, safely, even when several instances boot together.

An Auto Scaling group starts its instances at the same time, and each runs
bootstrap.sh. Two ``migrate`` runs racing on one PostgreSQL database can both
try to create the same table. Here each takes a PostgreSQL advisory lock
first: the first migrates, the others wait and then find nothing to do.
SQLite lives on one instance, so it needs no lock.

Under the lock, in order: a snapshot of the database when there is something
to migrate (a copy of the SQLite file in ``backups/``, or an RDS snapshot of
``DATABASE_INSTANCE_ID``), the migrations, then ``createcachetable``. On
PostgreSQL it runs as the RDS master user and then gives the app's own role
(``DATABASE_APP_SECRET_ARN``: its name and password) rights on the data only:
the app can read and write rows, not create, alter or drop tables, nor roles.

Run with the app's environment: ``venv/bin/python deploy/migrate.py``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

APP_DIR = Path(__file__).resolve().parent.parent
# Any number every instance of this app agrees on; the bytes spell "FLAB".
LOCK_ID = 0x464C4142
# SQLite copies kept in VAR_DIR/backups; older ones are removed.
KEEP_SQLITE_BACKUPS = 5
# Waiting for an RDS snapshot: 30 s between looks, 40 minutes at most.
SNAPSHOT_WAIT = {"Delay": 30, "MaxAttempts": 80}


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


def needs_snapshot(connection: Any) -> bool:
    """Something to migrate, in a database that already holds data."""
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if not executor.loader.applied_migrations:
        return False  # a fresh database: nothing to keep
    return bool(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def backup_sqlite(connection: Any, folder: Path, keep: int = KEEP_SQLITE_BACKUPS) -> Path:
    """A consistent copy (SQLite's online backup), even while the app writes."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"db-before-migrate-{stamp()}.sqlite3"
    connection.ensure_connection()
    with sqlite3.connect(target) as copy:
        connection.connection.backup(copy)
    copy.close()
    for old in sorted(folder.glob("db-before-migrate-*.sqlite3"))[:-keep]:
        old.unlink()
    return target


def snapshot_rds(rds: Any, instance_id: str) -> str:
    """A manual RDS snapshot, waited for: it outlives automated backups and the stack."""
    name = f"{instance_id}-before-migrate-{stamp()}"
    rds.create_db_snapshot(DBInstanceIdentifier=instance_id, DBSnapshotIdentifier=name)
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier=name, WaiterConfig=SNAPSHOT_WAIT
    )
    return name


def snapshot(connection: Any) -> str | None:
    from django.conf import settings

    if not needs_snapshot(connection):
        return None
    if connection.vendor == "sqlite":
        return str(backup_sqlite(connection, Path(settings.VAR_DIR) / "backups"))
    instance_id = os.environ.get("DATABASE_INSTANCE_ID", "")
    if not instance_id:
        print("No DATABASE_INSTANCE_ID: migrating without a snapshot.", file=sys.stderr)
        return None
    from findlabels import aws

    return snapshot_rds(aws.client("rds"), instance_id)


def ensure_app_role(cursor: Any, database_name: str, role: str, password: str) -> None:
    """The app's login role: rows of this database's tables, and nothing more.

    ``cursor`` is a psycopg cursor (or Django's wrapper of one) of the owner.
    """
    from psycopg import sql

    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
    verb = "ALTER" if cursor.fetchone() else "CREATE"
    name = sql.Identifier(role)
    database = sql.Identifier(database_name)
    statements = [
        # The password goes over the (TLS) connection, never a command line.
        sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
            name, sql.Literal(password)
        ),
        sql.SQL("REVOKE CREATE ON SCHEMA public FROM PUBLIC"),
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(database, name),
        sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(name),
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {}").format(
            name
        ),
        sql.SQL("GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {}").format(name),
    ]
    for statement in statements:
        cursor.execute(statement.as_string(cursor.connection))


def app_role_from_secret() -> tuple[str, str] | None:
    """(role, password) from DATABASE_APP_SECRET_ARN, or None when there is none."""
    arn = os.environ.get("DATABASE_APP_SECRET_ARN", "")
    if not arn:
        return None
    import json

    import aws_secrets  # beside this file: python puts the script's folder on sys.path

    secret = json.loads(aws_secrets.secret_string(arn, os.environ.get("AWS_REGION")))
    return str(secret["username"]), str(secret["password"])


def migrate(connection: Any) -> None:
    from django.core.management import call_command

    taken = snapshot(connection)
    if taken:
        print(f"Snapshot before migrating: {taken}")
    call_command("migrate", interactive=False)
    # The database cache (rate limits, sessions) is a table too; made under
    # the same lock so two instances do not race to create it.
    call_command("createcachetable")
    if connection.vendor == "postgresql":
        role = app_role_from_secret()
        if role:
            with connection.cursor() as cursor:
                ensure_app_role(cursor, connection.settings_dict["NAME"], *role)


def main() -> None:
    sys.path.insert(0, str(APP_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "findlabels.settings")
    import django

    django.setup()
    from django.db import connection

    if connection.vendor != "postgresql":
        migrate(connection)
        return
    # A session-level lock, held on the same connection migrate uses; if the
    # process dies, PostgreSQL releases it with the connection.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [LOCK_ID])
    try:
        migrate(connection)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [LOCK_ID])


if __name__ == "__main__":
    main()
