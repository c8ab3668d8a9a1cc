"""This stack's secrets from AWS Secrets Manager, for bootstrap.sh and systemd.

    aws_secrets.py secret --region REGION ARN
        Print a secret's string: Django's SECRET_KEY, which bootstrap.sh
        writes into /etc/findlabels/env.

    aws_secrets.py pgpass
        Write PGPASSFILE for the server, database and user of DATABASE_URL,
        with the password from DATABASE_SECRET_ARN (the secret RDS manages).
        RDS rotates that password; libpq reads the file at every new
        connection, so refreshing the file (findlabels-db-credentials.timer)
        is all a rotation needs: no restart, and open connections go on.

Credentials come from the instance role. Runs with the app's venv, which has boto3.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

T = TypeVar("T")

# Right after an instance starts, its role's credentials or a just-attached
# policy can take a little while to reach Secrets Manager (IAM is eventually
# consistent); these errors are then worth waiting out.
_NOT_YET = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredTokenException",
}
WAIT_SECONDS = 120
PAUSE_SECONDS = 5


def with_patience(call: Callable[[], T], *, wait: float = WAIT_SECONDS) -> T:
    """Call, retrying for ``wait`` seconds while credentials are still arriving."""
    from botocore.exceptions import ClientError, NoCredentialsError

    deadline = time.monotonic() + wait
    while True:
        try:
            return call()
        except NoCredentialsError:
            if time.monotonic() >= deadline:
                raise
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") not in _NOT_YET:
                raise
            if time.monotonic() >= deadline:
                raise
        time.sleep(PAUSE_SECONDS)


def secrets_client(region: str | None) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"})
    return boto3.session.Session().client(
        "secretsmanager",
        region_name=region or os.environ.get("AWS_REGION"),
        endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
        config=config,
    )


def secret_string(arn: str, region: str | None, *, wait: float = WAIT_SECONDS) -> str:
    client = secrets_client(region)
    response = with_patience(lambda: client.get_secret_value(SecretId=arn), wait=wait)
    return str(response["SecretString"])


def pgpass_field(value: str) -> str:
    """Escape one field of a libpq password file (``:`` and ``\\`` are special)."""
    return value.replace("\\", "\\\\").replace(":", "\\:")


def pgpass_line(database_url: str, username: str, password: str) -> str:
    """The password-file line matching exactly the server of ``database_url``."""
    url = urlsplit(database_url)
    if url.scheme not in ("postgres", "postgresql", "pgsql"):
        raise ValueError(f"DATABASE_URL is not a PostgreSQL URL: {url.scheme}://...")
    url_user = unquote(url.username or "")
    if url_user != username:
        raise ValueError(f"the secret is for user {username!r}, DATABASE_URL names {url_user!r}")
    fields = (
        url.hostname or "localhost",
        str(url.port or 5432),
        unquote(url.path.lstrip("/")) or username,
        username,
        password,
    )
    return ":".join(pgpass_field(field) for field in fields) + "\n"


def write_if_changed(path: Path, content: str) -> bool:
    """Replace ``path`` atomically, mode 0600 (libpq ignores a file others can read)."""
    try:
        if path.read_text() == content and (path.stat().st_mode & 0o777) == 0o600:
            return False
    except FileNotFoundError:
        pass
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:  # mkstemp creates it 0600
            file.write(content)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def refresh_pgpass(environ: dict[str, str], *, wait: float = WAIT_SECONDS) -> bool:
    """Write PGPASSFILE from the secret; True when its content changed."""
    for name in ("DATABASE_URL", "DATABASE_SECRET_ARN", "PGPASSFILE"):
        if not environ.get(name):
            raise SystemExit(f"{name} is not set (see /etc/findlabels/env)")
    secret = json.loads(
        secret_string(environ["DATABASE_SECRET_ARN"], environ.get("AWS_REGION"), wait=wait)
    )
    line = pgpass_line(environ["DATABASE_URL"], secret["username"], secret["password"])
    return write_if_changed(Path(environ["PGPASSFILE"]), line)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    secret = commands.add_parser("secret", help="print a secret's string")
    secret.add_argument("arn")
    secret.add_argument("--region")
    commands.add_parser("pgpass", help="write PGPASSFILE from DATABASE_SECRET_ARN")
    args = parser.parse_args(argv)

    if args.command == "secret":
        sys.stdout.write(secret_string(args.arn, args.region))
        return 0
    if refresh_pgpass(dict(os.environ)):
        # Only a change is news; the timer runs this every minute.
        print(f"database password updated in {os.environ['PGPASSFILE']}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
