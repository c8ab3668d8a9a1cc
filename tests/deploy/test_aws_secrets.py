"""deploy/aws_secrets.py (secrets for bootstrap.sh and the password timer) and
deploy/migrate.py (one migrate when instances boot together)."""

from __future__ import annotations

import importlib.util
import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from .conftest import DEPLOY


def load_script(path: Path) -> Any:
    """Import a deploy/ script as a module without putting deploy/ on sys.path."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


aws_secrets = load_script(DEPLOY / "aws_secrets.py")

REGION = "eu-west-1"
DATABASE_URL = "postgres://findlabels@db.example.com:5432/findlabels?sslmode=require"


@pytest.fixture
def secrets(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def rds_secret(client: Any, password: str) -> str:
    """A secret shaped like the one RDS manages for its master user."""
    value = json.dumps({"username": "findlabels", "password": password})
    return str(client.create_secret(Name="rds!db-1", SecretString=value)["ARN"])


def test_pgpass_fields_escape_colons_and_backslashes() -> None:
    line = aws_secrets.pgpass_line(DATABASE_URL, "findlabels", r"a:b\c d@e")
    assert line == "db.example.com:5432:findlabels:findlabels:a\\:b\\\\c d@e\n"


def test_the_secret_must_be_for_the_user_the_app_connects_as() -> None:
    with pytest.raises(ValueError, match="the secret is for user 'postgres'"):
        aws_secrets.pgpass_line(DATABASE_URL, "postgres", "x")
    with pytest.raises(ValueError, match="not a PostgreSQL URL"):
        aws_secrets.pgpass_line("sqlite:///db.sqlite3", "findlabels", "x")


def test_the_password_file_follows_rotation(secrets: Any, tmp_path: Path) -> None:
    arn = rds_secret(secrets, "first:password")
    pgpass = tmp_path / "pgpass"
    environ = {
        "DATABASE_URL": DATABASE_URL,
        "DATABASE_SECRET_ARN": arn,
        "PGPASSFILE": str(pgpass),
        "AWS_REGION": REGION,
    }
    assert aws_secrets.refresh_pgpass(environ) is True
    assert pgpass.read_text() == "db.example.com:5432:findlabels:findlabels:first\\:password\n"
    # libpq ignores a password file that group or others can read.
    assert stat.S_IMODE(pgpass.stat().st_mode) == 0o600
    assert aws_secrets.refresh_pgpass(environ) is False

    rotated = json.dumps({"username": "findlabels", "password": "second"})
    secrets.put_secret_value(SecretId=arn, SecretString=rotated)
    assert aws_secrets.refresh_pgpass(environ) is True
    assert pgpass.read_text().endswith(":second\n")
    assert [p.name for p in tmp_path.iterdir()] == ["pgpass"]  # no temporary left behind


def test_the_secret_command_prints_the_django_key(secrets: Any, capsys: Any) -> None:
    arn = secrets.create_secret(Name="django", SecretString="Abc123")["ARN"]
    assert aws_secrets.main(["secret", "--region", REGION, arn]) == 0
    assert capsys.readouterr().out == "Abc123"


def test_it_waits_for_the_instance_role_to_be_allowed(monkeypatch: Any) -> None:
    monkeypatch.setattr(aws_secrets, "PAUSE_SECONDS", 0)
    answers: list[Any] = [
        ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetSecretValue"),
        ClientError({"Error": {"Code": "UnrecognizedClientException"}}, "GetSecretValue"),
        "the value",
    ]

    def call() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return str(answer)

    assert aws_secrets.with_patience(call) == "the value"


def test_other_errors_are_not_waited_for(monkeypatch: Any) -> None:
    monkeypatch.setattr(aws_secrets, "PAUSE_SECONDS", 0)
    missing = ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "GetSecretValue")

    def call() -> str:
        raise missing

    with pytest.raises(ClientError):
        aws_secrets.with_patience(call)


def migrate(database_url: str, folder: Path) -> subprocess.Popen[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(folder),
        "DJANGO_SECRET_KEY": "migrate-test-secret-key",
        "FINDLABELS_VAR_DIR": str(folder),
        "DATABASE_URL": database_url,
    }
    return subprocess.Popen(
        [sys.executable, str(DEPLOY / "migrate.py")],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_migrate_py_migrates_sqlite(tmp_path: Path) -> None:
    run = migrate(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path)
    output = run.communicate(timeout=120)[0]
    assert run.returncode == 0, output
    assert "Applying accounts.0001_initial... OK" in output
    again = migrate(f"sqlite:///{tmp_path}/db.sqlite3", tmp_path)
    assert "No migrations to apply." in again.communicate(timeout=120)[0]


@pytest.mark.slow
def test_instances_booting_together_migrate_postgres_once(tmp_path: Path) -> None:
    psycopg = pytest.importorskip("psycopg")
    server = os.environ.get("PG_URL", "postgres://postgres@127.0.0.1:5432/test")
    try:
        admin = psycopg.connect(server, connect_timeout=3, autocommit=True)
    except psycopg.OperationalError:
        pytest.skip(f"no PostgreSQL answers at {server} (set PG_URL): the lock is not exercised")
    name = f"findlabels_deploy_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        database_url = server.rsplit("/", 1)[0] + f"/{name}"
        runs = [migrate(database_url, tmp_path) for _ in range(3)]
        outputs = [run.communicate(timeout=180)[0] for run in runs]
        assert [run.returncode for run in runs] == [0, 0, 0], "\n".join(outputs)
        # One applied the migrations; the others waited for the lock, then had nothing to do.
        assert sum("Applying accounts.0001_initial... OK" in out for out in outputs) == 1
        assert sum("No migrations to apply." in out for out in outputs) == 2
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()
