"""deploy/migrate.py: migrations and the cache table under one lock, after a snapshot."""

from __future__ import annotations

import importlib.util
import sqlite3
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from tests.conftest import run_bare

from .conftest import DEPLOY
from .test_production_smoke import Postgres, postgres  # noqa: F401 (the fixture)


def load_migrate() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_migrate", DEPLOY / "migrate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


migrate = load_migrate()


def run_migrate(var: Path, *args: str) -> Any:
    env = {
        "FINDLABELS_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var}/db.sqlite3",
        "DJANGO_SECRET_KEY": "migrate-test-key-" + "x" * 40,
    }
    if args:
        return run_bare("manage.py", *args, **env)
    return run_bare(str(DEPLOY / "migrate.py"), **env)


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def applied(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM django_migrations").fetchone()[0])


@pytest.mark.slow
def test_a_fresh_database_gets_migrations_and_cache_table_and_no_snapshot(tmp_path: Path) -> None:
    result = run_migrate(tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Snapshot" not in result.stdout
    assert {"findlabels_cache", "gallery_image", "django_migrations"} <= tables(
        tmp_path / "db.sqlite3"
    )
    assert not (tmp_path / "backups").exists()

    # Nothing left to migrate: no snapshot either.
    again = run_migrate(tmp_path)
    assert again.returncode == 0, again.stderr
    assert "Snapshot" not in again.stdout


@pytest.mark.slow
def test_a_database_with_pending_migrations_is_copied_first(tmp_path: Path) -> None:
    database = tmp_path / "db.sqlite3"
    assert run_migrate(tmp_path).returncode == 0
    full = applied(database)
    # Step gallery back one migration, as if a new release brought it.
    latest = sorted(p.stem for p in (DEPLOY.parent / "gallery/migrations").glob("0*.py"))
    back = run_migrate(tmp_path, "migrate", "gallery", latest[-2])
    assert back.returncode == 0, back.stderr
    before = applied(database)
    assert before == full - 1

    result = run_migrate(tmp_path)
    assert result.returncode == 0, result.stderr
    copies = sorted((tmp_path / "backups").glob("db-before-migrate-*.sqlite3"))
    assert len(copies) == 1
    assert f"Snapshot before migrating: {copies[0]}" in result.stdout
    assert applied(copies[0]) == before  # the database as it was, before this release
    assert applied(database) == full


def test_only_the_newest_sqlite_copies_are_kept(tmp_path: Path, monkeypatch: Any) -> None:
    source = sqlite3.connect(":memory:")
    source.execute("CREATE TABLE t (x)")

    class Connection:
        connection = source

        def ensure_connection(self) -> None:
            pass

    moments = iter(f"20260101-00000{n}" for n in range(9))
    monkeypatch.setattr(migrate, "stamp", lambda: next(moments))
    for _ in range(7):
        migrate.backup_sqlite(Connection(), tmp_path, keep=5)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [f"db-before-migrate-20260101-00000{n}.sqlite3" for n in range(2, 7)]
    assert tables(tmp_path / names[-1]) == {"t"}


def test_an_rds_snapshot_is_taken_and_waited_for(aws_credentials: None) -> None:
    with mock_aws():
        rds = boto3.client("rds", region_name="eu-west-1")
        rds.create_db_instance(
            DBInstanceIdentifier="findlabels-db",
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            MasterUsername="findlabels",
            MasterUserPassword="not-a-real-one-1",
            AllocatedStorage=20,
        )
        name = migrate.snapshot_rds(rds, "findlabels-db")
        assert name.startswith("findlabels-db-before-migrate-")
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=name)["DBSnapshots"]
        assert [(s["DBInstanceIdentifier"], s["Status"]) for s in found] == [
            ("findlabels-db", "available")
        ]


@pytest.mark.slow
def test_the_app_role_may_change_rows_but_not_tables_or_roles(
    postgres: Postgres,  # noqa: F811 (the fixture imported above)
) -> None:
    url = postgres.create_database("roles")
    with psycopg.connect(url, autocommit=True) as owner:
        owner.execute("CREATE TABLE gallery_photo (id serial PRIMARY KEY, name text)")
        with owner.cursor() as cursor:
            migrate.ensure_app_role(cursor, "roles", "findlabels_app", "first-password-1")
            # A second run (every bootstrap) updates the same role.
            migrate.ensure_app_role(cursor, "roles", "findlabels_app", "second-password-2")
        # A table a later migration adds is granted on the next run.
        owner.execute("CREATE TABLE gallery_label (id serial PRIMARY KEY)")
        with owner.cursor() as cursor:
            migrate.ensure_app_role(cursor, "roles", "findlabels_app", "second-password-2")

    app_url = url.replace("postgres://postgres@", "postgres://findlabels_app@")
    with psycopg.connect(app_url, autocommit=True) as app:
        app.execute("INSERT INTO gallery_photo (name) VALUES ('cat.jpg')")
        app.execute("UPDATE gallery_photo SET name = 'dog.jpg'")
        assert app.execute("SELECT name FROM gallery_photo").fetchall() == [("dog.jpg",)]
        app.execute("INSERT INTO gallery_label DEFAULT VALUES")
        app.execute("DELETE FROM gallery_photo")
        for statement in (
            "CREATE TABLE mine (x int)",
            "DROP TABLE gallery_photo",
            "ALTER TABLE gallery_photo ADD COLUMN y int",
            "TRUNCATE gallery_photo",
            "CREATE ROLE intruder",
            "ALTER ROLE findlabels_app SUPERUSER",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                app.execute(statement)
    roles = postgres.query(
        "roles",
        "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
        "WHERE rolname = 'findlabels_app'",
    )
    assert roles == [(False, False, False)]
