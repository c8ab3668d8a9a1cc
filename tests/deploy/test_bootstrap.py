"""deploy/bootstrap.sh: shellcheck-clean, and idempotent, run twice in a scratch root.

DRY_RUN=1 prints the commands that would change the machine (dnf, useradd,
git, pip, manage.py, systemctl, AWS) and writes every file for real under
ROOT, so the trees of two runs can be compared byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from .conftest import DEPLOY, require

BOOTSTRAP = DEPLOY / "bootstrap.sh"

SQLITE_SINGLE = {
    "APP_REPOSITORY": "https://example.com/findlabels.git",
    "APP_REF": "0123456789abcdef0123456789abcdef01234567",
    "AWS_REGION": "eu-west-1",
    "AWS_STORAGE_BUCKET_NAME": "findlabels-mediabucket-abc123",
    "COGNITO_USER_POOL_ID": "eu-west-1_AbCdEf",
    "COGNITO_APP_CLIENT_ID": "1example23456789",
    "DJANGO_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:key-AbC",
    "DATABASE_ENGINE": "sqlite",
    "DATABASE_HOST": "",
    "DATABASE_PORT": "",
    "DATABASE_NAME": "findlabels",
    "DATABASE_USER": "findlabels",
    "DATABASE_SECRET_ARN": "",
    "SITE_HOST": "203.0.113.10",
    "DOMAIN_NAME": "",
    "LETSENCRYPT_EMAIL": "",
    "BEHIND_LOAD_BALANCER": "0",
    "HTTPS_AT_LOAD_BALANCER": "0",
    "DATABASE_INSTANCE_ID": "",
    "INSTANCE_COUNT": "1",
    "STACK_NAME": "findlabels",
    "ELASTIC_IP_ALLOCATION_ID": "eipalloc-0123456789abcdef0",
    "DATABASE_APP_SECRET_ARN": "",
}
POSTGRES_BEHIND_ALB = {
    **SQLITE_SINGLE,
    "DATABASE_ENGINE": "postgres",
    "DATABASE_HOST": "findlabels-database.abc.eu-west-1.rds.amazonaws.com",
    "DATABASE_PORT": "5432",
    "DATABASE_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1-AbC",
    "SITE_HOST": "findlabels-lb-1.eu-west-1.elb.amazonaws.com",
    "DOMAIN_NAME": "photos.example.com",
    "BEHIND_LOAD_BALANCER": "1",
    "HTTPS_AT_LOAD_BALANCER": "1",
    "DATABASE_INSTANCE_ID": "findlabels-database",
    "INSTANCE_COUNT": "3",
    "ELASTIC_IP_ALLOCATION_ID": "",
    "DATABASE_APP_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-AbC",
}
LETSENCRYPT_SINGLE = {
    **SQLITE_SINGLE,
    "DOMAIN_NAME": "photos.example.com",
    "LETSENCRYPT_EMAIL": "ops@example.com",
}


def write_config(root: Path, config: dict[str, str]) -> None:
    """What the stack's first-boot script writes."""
    path = root / "etc/findlabels/bootstrap.env"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{key}={value}\n" for key, value in config.items()))
    path.chmod(0o600)


def bootstrap(root: Path, **environment: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: AWS_REGION and friends from the test run must not
    # leak in and override the file.
    env = {"PATH": os.environ["PATH"], "HOME": str(root), "LANG": "C.UTF-8"}
    env.update({"ROOT": str(root), "DRY_RUN": "1", **environment})
    return subprocess.run(
        ["bash", str(BOOTSTRAP)], env=env, capture_output=True, text=True, timeout=60
    )


def tree(root: Path) -> dict[str, tuple[str, int, int, int, str]]:
    """Every path under root: kind, mode, owner, group and content hash."""
    snapshot = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        kind = "dir" if path.is_dir() else "link" if path.is_symlink() else "file"
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if kind == "file" else ""
        snapshot[str(path.relative_to(root))] = (
            kind,
            stat.S_IMODE(info.st_mode),
            info.st_uid,
            info.st_gid,
            digest,
        )
    return snapshot


def env_file(root: Path) -> dict[str, str]:
    lines = (root / "etc/findlabels/env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize("script", ["bootstrap.sh", "manage.sh"])
def test_shellcheck_passes(script: str) -> None:
    result = subprocess.run(
        [require("shellcheck"), str(DEPLOY / script)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "config",
    [SQLITE_SINGLE, POSTGRES_BEHIND_ALB, LETSENCRYPT_SINGLE],
    ids=["sqlite-single", "postgres-alb", "letsencrypt"],
)
def test_a_second_run_changes_nothing(tmp_path: Path, config: dict[str, str]) -> None:
    write_config(tmp_path, config)
    first = bootstrap(tmp_path, PRIVATE_ADDRESS="10.0.0.12")
    assert first.returncode == 0, first.stderr
    assert "wrote /etc/findlabels/env" in first.stdout
    assert "systemctl restart findlabels.service" in first.stdout
    after_first = tree(tmp_path)

    second = bootstrap(tmp_path, PRIVATE_ADDRESS="10.0.0.12")
    assert second.returncode == 0, second.stderr
    assert tree(tmp_path) == after_first
    assert "wrote" not in second.stdout
    # Nothing changed, so nothing restarts; a stopped service is started.
    assert "restart" not in second.stdout
    assert "systemctl start findlabels.service" in second.stdout


def test_the_environment_file_is_private_and_complete(tmp_path: Path) -> None:
    write_config(tmp_path, SQLITE_SINGLE)
    result = bootstrap(tmp_path)
    assert result.returncode == 0, result.stderr
    path = tmp_path / "etc/findlabels/env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_uid == os.getuid()  # root on an instance; the runner here
    env = env_file(tmp_path)
    assert env["FINDLABELS_MODE"] == "aws"
    assert env["AWS_REGION"] == "eu-west-1"
    assert env["AWS_STORAGE_BUCKET_NAME"] == "findlabels-mediabucket-abc123"
    assert env["COGNITO_USER_POOL_ID"] == "eu-west-1_AbCdEf"
    assert env["COGNITO_APP_CLIENT_ID"] == "1example23456789"
    assert env["DJANGO_SECRET_KEY"]  # read from Secrets Manager; a placeholder in a dry run
    assert env["DJANGO_ALLOWED_HOSTS"] == "203.0.113.10"
    assert env["DJANGO_CSRF_TRUSTED_ORIGINS"] == "http://203.0.113.10"
    assert env["DJANGO_BEHIND_PROXY"] == "1"
    assert env["DJANGO_HTTPS"] == "0"
    assert env["DATABASE_URL"] == "sqlite:////var/lib/findlabels/db/db.sqlite3"
    assert env["DJANGO_STATIC_ROOT"] == "/var/lib/findlabels/static"
    assert env["FINDLABELS_VAR_DIR"] == "/var/lib/findlabels"
    assert env["FINDLABELS_MODEL_CACHE_DIR"] == "/var/lib/findlabels/models"
    assert env["FINDLABELS_ACCEL_REDIRECT_PREFIX"] == "/protected-media/"
    # The unit and the nginx site are the ones in deploy/, unchanged.
    unit = tmp_path / "etc/systemd/system/findlabels.service"
    assert unit.read_bytes() == (DEPLOY / "findlabels.service").read_bytes()
    site = tmp_path / "etc/nginx/conf.d/findlabels.conf"
    assert site.read_bytes() == (DEPLOY / "nginx.conf").read_bytes()
    instance = (tmp_path / "etc/nginx/findlabels/instance.conf").read_text()
    assert "https://findlabels-mediabucket-abc123.s3.eu-west-1.amazonaws.com" in instance
    assert "ssl" not in instance
    # The app's state folder is the app user's, and the database folder its alone.
    assert stat.S_IMODE((tmp_path / "var/lib/findlabels").stat().st_mode) == 0o750
    assert stat.S_IMODE((tmp_path / "var/lib/findlabels/db").stat().st_mode) == 0o700
    assert "chown findlabels:findlabels" in result.stdout
    assert env["FINDLABELS_UPLOAD_TEMP_DIR"] == "/var/lib/findlabels/tmp"
    assert stat.S_IMODE((tmp_path / "var/lib/findlabels/tmp").stat().st_mode) == 0o700
    for step in ("deploy/migrate.py", "collectstatic"):
        assert step in result.stdout
    # Rekognition is AWS mode's engine: no on-box model to build on the first boot.
    assert "prepare_model" not in result.stdout


def test_postgres_behind_a_load_balancer_keeps_the_password_out_of_the_env(
    tmp_path: Path,
) -> None:
    write_config(tmp_path, POSTGRES_BEHIND_ALB)
    result = bootstrap(tmp_path, PRIVATE_ADDRESS="10.0.0.12")
    assert result.returncode == 0, result.stderr
    env = env_file(tmp_path)
    # The app connects as its own role, which may change rows, not tables.
    assert env["DATABASE_URL"] == (
        "postgres://findlabels_app@findlabels-database.abc.eu-west-1.rds.amazonaws.com:5432"
        "/findlabels?sslmode=verify-full&sslrootcert=/etc/findlabels/rds-ca-bundle.pem"
    )
    assert env["PGPASSFILE"] == "/var/lib/findlabels/pgpass"
    assert env["DATABASE_SECRET_ARN"] == POSTGRES_BEHIND_ALB["DATABASE_APP_SECRET_ARN"]
    # Migrations run as root with the master user, whose password file is root's.
    migrate = next(line for line in result.stdout.splitlines() if "deploy/migrate.py" in line)
    assert "runuser" not in migrate
    assert "DATABASE_URL=postgres://findlabels@findlabels-database." in migrate
    assert "PGPASSFILE=/etc/findlabels/pgpass-admin" in migrate
    # (printed shell-quoted: the "!" of RDS's secret name comes out as "\\!")
    assert "DATABASE_SECRET_ARN=arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds" in migrate
    # The load balancer's health checks use the instance's private address as Host.
    assert env["DJANGO_ALLOWED_HOSTS"] == (
        "photos.example.com,findlabels-lb-1.eu-west-1.elb.amazonaws.com,10.0.0.12"
    )
    assert env["DJANGO_CSRF_TRUSTED_ORIGINS"] == (
        "https://photos.example.com,https://findlabels-lb-1.eu-west-1.elb.amazonaws.com"
    )
    assert env["DJANGO_HTTPS"] == "1"
    units = tmp_path / "etc/systemd/system"
    assert {p.name for p in units.iterdir()} == {
        "findlabels.service",
        "findlabels-db-credentials.service",
        "findlabels-db-credentials.timer",
        "findlabels-sweep-media.service",
        "findlabels-sweep-media.timer",
        "findlabels-healthcheck.service",
        "findlabels-healthcheck.timer",
    }
    # A fleet opens a connection per request; one instance keeps them a minute.
    assert env["DATABASE_CONN_MAX_AGE"] == "0"
    assert env["DATABASE_INSTANCE_ID"] == "findlabels-database"
    assert "curl -fsS --max-time 30 -o /etc/findlabels/rds-ca-bundle.pem" in result.stdout
    assert "aws_secrets.py pgpass" in result.stdout
    assert "enable --quiet --now findlabels-db-credentials.timer" in result.stdout


def test_a_setting_from_the_environment_wins_and_is_kept(tmp_path: Path) -> None:
    write_config(tmp_path, SQLITE_SINGLE)
    assert bootstrap(tmp_path).returncode == 0
    release = "fedcba9876543210fedcba9876543210fedcba98"
    updated = bootstrap(tmp_path, APP_REF=release)
    assert updated.returncode == 0, updated.stderr
    assert f"fetch --quiet --tags origin {release}" in updated.stdout
    saved = (tmp_path / "etc/findlabels/bootstrap.env").read_text()
    assert f"APP_REF={release}\n" in saved
    assert stat.S_IMODE((tmp_path / "etc/findlabels/bootstrap.env").stat().st_mode) == 0o600
    again = bootstrap(tmp_path)
    assert f"fetch --quiet --tags origin {release}" in again.stdout


def test_a_certificate_switches_nginx_and_django_to_https(tmp_path: Path) -> None:
    write_config(tmp_path, LETSENCRYPT_SINGLE)
    first = bootstrap(tmp_path)
    assert first.returncode == 0, first.stderr
    assert "certbot certonly --webroot -w /var/www/acme -d photos.example.com" in first.stdout
    assert env_file(tmp_path)["DJANGO_HTTPS"] == "0"
    assert (tmp_path / "etc/systemd/system/findlabels-certbot-renew.timer").exists()

    live = tmp_path / "etc/letsencrypt/live/photos.example.com"
    live.mkdir(parents=True)
    (live / "fullchain.pem").write_text("certificate")
    (live / "privkey.pem").write_text("key")
    second = bootstrap(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "certbot" not in second.stdout.replace("certbot-renew", "")
    instance = (tmp_path / "etc/nginx/findlabels/instance.conf").read_text()
    assert "listen 443 ssl;" in instance
    assert "ssl_certificate /etc/letsencrypt/live/photos.example.com/fullchain.pem;" in instance
    env = env_file(tmp_path)
    assert env["DJANGO_HTTPS"] == "1"
    assert env["DJANGO_CSRF_TRUSTED_ORIGINS"] == "https://photos.example.com,https://203.0.113.10"
    assert "systemctl reload-or-restart nginx.service" in second.stdout
    assert "systemctl restart findlabels.service" in second.stdout


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SITE_HOST": "two words"}, "SITE_HOST holds a space"),
        ({"APP_REF": "main"}, "APP_REF must be a full 40-character commit SHA"),
        ({"APP_REF": "v1.4"}, "APP_REF must be a full 40-character commit SHA"),
        ({"COGNITO_USER_POOL_ID": ""}, "COGNITO_USER_POOL_ID is not set"),
        ({"DATABASE_ENGINE": "mysql"}, "DATABASE_ENGINE must be sqlite or postgres"),
        ({"DATABASE_ENGINE": "postgres"}, "needs DATABASE_HOST, DATABASE_SECRET_ARN and"),
        ({"BEHIND_LOAD_BALANCER": "1"}, "use postgres"),
    ],
)
def test_bad_settings_stop_it_before_it_changes_anything(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    write_config(tmp_path, {**SQLITE_SINGLE, **change})
    result = bootstrap(tmp_path)
    assert result.returncode == 1
    assert message in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["etc"]
    assert [p.name for p in (tmp_path / "etc/findlabels").iterdir()] == ["bootstrap.env"]


def test_a_scratch_root_is_only_for_dry_runs(tmp_path: Path) -> None:
    write_config(tmp_path, SQLITE_SINGLE)
    result = bootstrap(tmp_path, DRY_RUN="0")
    assert result.returncode == 1
    assert ("ROOT is for dry runs" in result.stderr) or ("run me as root" in result.stderr)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return result.stdout.strip()


def test_an_update_checks_out_the_ref_and_runs_its_own_bootstrap(tmp_path: Path) -> None:
    """The update path for real, minus everything after the checkout."""
    repo = tmp_path / "repo"
    (repo / "deploy").mkdir(parents=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "deploy/bootstrap.sh").write_text(BOOTSTRAP.read_text())
    git(repo, "add", ".")
    git(repo, "commit", "--quiet", "-m", "v1")
    git(repo, "tag", "v1")
    # v2's bootstrap.sh differs: the running (v1) script must hand over to it.
    (repo / "deploy/bootstrap.sh").write_text(
        'echo "v2 bootstrap for APP_REF=$APP_REF, app changed: $FINDLABELS_APP_CHANGED"\n'
    )
    git(repo, "commit", "--quiet", "-am", "v2")
    git(repo, "tag", "v2")
    root = tmp_path / "root"
    # Releases are commits: fetched by SHA, not by a tag that can move.
    v1, v2 = git(repo, "rev-parse", "v1"), git(repo, "rev-parse", "v2")
    script = f"""
        set -euo pipefail
        source {BOOTSTRAP}
        ROOT={root} DRY_RUN=0 APP_REPOSITORY=file://{repo}
        APP_REF={v1}; checkout_app; echo "v1 changed=$APP_CHANGED"
        reexec_if_newer; echo "v1 kept this script"
        APP_CHANGED=0; checkout_app; echo "v1 again changed=$APP_CHANGED"
        APP_REF={v2}; checkout_app; echo "v2 changed=$APP_CHANGED"
        reexec_if_newer; echo "not reached"
    """
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"==> app at {v1} ({v1})",
        "v1 changed=1",
        "v1 kept this script",  # v1's bootstrap.sh is this one
        "v1 again changed=0",
        f"==> app at {v2} ({v2})",
        "v2 changed=1",
        f"==> continuing with the bootstrap.sh of {v2}",
        # It must still restart the app, though its own checkout finds nothing to do.
        f"v2 bootstrap for APP_REF={v2}, app changed: 1",
    ]
    assert git(root / "opt/findlabels/app", "rev-parse", "HEAD") == git(repo, "rev-parse", "v2")


class ArgvWatcher:
    """Reads every process's /proc/PID/cmdline, over and over, in a thread."""

    def __init__(self, secret: str, probe: str) -> None:
        self.secret, self.probe = secret.encode(), probe.encode()
        self.leaks: list[bytes] = []
        self.probe_environments: list[bytes] = []
        self.sweeps = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ArgvWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for proc in Path("/proc").glob("[0-9]*"):
                try:
                    cmdline = (proc / "cmdline").read_bytes()
                    if self.secret in cmdline:
                        self.leaks.append(cmdline.replace(b"\0", b" "))
                    # The stand-in itself (a #! script runs as `/bin/sh PATH`), not
                    # the shell that hands over to it: /proc/PID/environ is the
                    # environment a process was started with.
                    if cmdline.split(b"\0")[:2] == [b"/bin/sh", self.probe]:
                        self.probe_environments.append((proc / "environ").read_bytes())
                except OSError:  # the process ended meanwhile
                    continue
            self.sweeps += 1


@pytest.mark.parametrize(
    "config", [SQLITE_SINGLE, POSTGRES_BEHIND_ALB], ids=["sqlite-single", "postgres-alb"]
)
def test_no_secret_appears_in_any_process_argv(tmp_path: Path, config: dict[str, str]) -> None:
    secret = "ArgvCanary" + secrets.token_hex(16)
    # Stands in for the app's commands: alive long enough to be seen, with
    # the environment a real command would get.
    probe = tmp_path / "probe-app-command"
    probe.write_text("#!/bin/sh\nsleep 1\n")
    probe.chmod(0o755)
    write_config(tmp_path, config)
    with ArgvWatcher(secret, str(probe)) as watcher:
        result = bootstrap(
            tmp_path, PRIVATE_ADDRESS="10.0.0.12", DRY_RUN_SECRET=secret, DRY_RUN_PROBE=str(probe)
        )
    assert result.returncode == 0, result.stderr
    assert env_file(tmp_path)["DJANGO_SECRET_KEY"] == secret
    assert secret not in result.stdout + result.stderr
    assert watcher.sweeps > 10
    # Never on a command line...
    assert watcher.leaks == []
    # ...though the commands did get the secret, through their environment.
    assert watcher.probe_environments, "the watcher never saw the stand-in command run"
    assert all(f"DJANGO_SECRET_KEY={secret}".encode() in e for e in watcher.probe_environments)


def test_one_instance_claims_its_address_before_asking_for_a_certificate(tmp_path: Path) -> None:
    write_config(tmp_path, LETSENCRYPT_SINGLE)
    result = bootstrap(tmp_path, INSTANCE_ID="i-0abc")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    healthy = out.index("http://127.0.0.1/healthz")
    claim = out.index(
        "aws ec2 associate-address --region eu-west-1 --allocation-id "
        "eipalloc-0123456789abcdef0 --instance-id i-0abc --allow-reassociation"
    )
    assert healthy < claim < out.index("certbot certonly")
    # Until there is a certificate, a timer keeps asking (DNS may come later).
    assert "enable --quiet --now findlabels-certificate.timer" in out
    units = {p.name for p in (tmp_path / "etc/systemd/system").iterdir()}
    assert {"findlabels-certificate.service", "findlabels-certificate.timer"} <= units


def test_instances_behind_a_load_balancer_claim_no_address(tmp_path: Path) -> None:
    write_config(tmp_path, POSTGRES_BEHIND_ALB)
    result = bootstrap(tmp_path, PRIVATE_ADDRESS="10.0.0.12")
    assert result.returncode == 0, result.stderr
    assert "associate-address" not in result.stdout
    assert "certbot" not in result.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="runuser switches users only for root")
def test_the_site_environment_reaches_a_command_run_as_another_user(tmp_path: Path) -> None:
    """with_site_env + runuser for real (as `nobody`): exactly the site's settings arrive."""
    env = tmp_path / "etc/findlabels/env"
    env.parent.mkdir(parents=True)
    env.write_text("# a comment\nDJANGO_SECRET_KEY=abc123\nDATABASE_URL=postgres://u@h/d?a=1&b=2\n")
    (tmp_path / "etc/findlabels/env.local").write_text("EMAIL_HOST=smtp.example.com\n")
    script = f"""
        set -euo pipefail
        source {BOOTSTRAP}
        ROOT={tmp_path}
        export LEAKY_OUTER_VARIABLE=1
        with_site_env "$(command -v runuser)" -u nobody -- /usr/bin/env
    """
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert seen["DJANGO_SECRET_KEY"] == "abc123"
    assert seen["DATABASE_URL"] == "postgres://u@h/d?a=1&b=2"
    assert seen["EMAIL_HOST"] == "smtp.example.com"
    assert seen["PATH"] == "/usr/bin:/bin"
    assert seen["USER"] == "nobody"
    assert "LEAKY_OUTER_VARIABLE" not in seen  # nothing of the caller's environment
