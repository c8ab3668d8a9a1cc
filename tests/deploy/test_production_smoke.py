"""The production stack on one machine, driven over real HTTP on 127.0.0.1.

Debian's PostgreSQL in a temporary folder, a moto server for S3, Cognito and
Rekognition, gunicorn with deploy/gunicorn.conf.py and the environment
bootstrap.sh writes, and Debian's nginx with deploy/nginx.conf in front. A
person signs up, uploads, detects and downloads through nginx, as on EC2.
A second leg switches media to local storage (as an env.local may) to show
nginx sending the files the app has only approved (X-Accel-Redirect).
"""

from __future__ import annotations

import html
import importlib.util
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from PIL import Image as PILImage
from psycopg import sql

from tools import aws_local

from .conftest import DEPLOY, require
from .test_nginx import free_port, nginx_command, site_config

pytestmark = pytest.mark.slow

REPO = DEPLOY.parent
PHOTOS = REPO / "tests" / "fixtures" / "photos"
PASSWORD = "Correct-Horse-42"
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
# One gallery card: the detail link, then the thumbnail's <img>.
CARD = re.compile(
    r'<a href="/images/([0-9a-f-]{36})/(?:\?back=[^"]*)?">\s*<img src="([^"]+)" alt="([^"]+)"'
)


# --- PostgreSQL -----------------------------------------------------------------


def postgres_program(name: str) -> str:
    found = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    if not found:
        pytest.fail(
            f"PostgreSQL's server program {name} is not installed "
            "(/usr/lib/postgresql/*/bin): `apt-get install postgresql`."
        )
    return str(found[-1])


def as_postgres(*command: str) -> list[str]:
    """initdb refuses to run as root: as root, run it as Debian's postgres user."""
    if os.geteuid() != 0:
        return list(command)
    return [require("runuser"), "-u", "postgres", "--", *command]


@dataclass
class Postgres:
    port: int

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def query(self, database: str, statement: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(database)) as connection:
            return connection.execute(statement).fetchall()


def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, **kwargs)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    initdb, pg_ctl = postgres_program("initdb"), postgres_program("pg_ctl")
    # Not under pytest's tmp folder: that is private to root, and the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="findlabels-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    log = folder / "postgres.log"
    try:
        run(as_postgres(initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                        "--locale=C", "--no-sync"))  # fmt: skip
        with (data / "postgresql.conf").open("a") as conf:
            # A throwaway cluster: durability costs time and buys nothing here.
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
            )
        started = subprocess.run(
            as_postgres(pg_ctl, "start", "-D", str(data), "-l", str(log), "-w", "-t", "30"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if started.returncode != 0:
            text = log.read_text() if log.exists() else ""
            pytest.fail(f"PostgreSQL did not start:\n{started.stderr}\n{text}")
        yield Postgres(port)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                as_postgres(pg_ctl, "stop", "-D", str(data), "-m", "fast", "-w"),
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(folder, ignore_errors=True)


# --- moto -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto() -> Iterator[aws_local.LocalAws]:
    local = aws_local.start()
    try:
        yield local
    finally:
        local.stop()


# --- gunicorn and nginx -----------------------------------------------------------

# The app's PostgreSQL role, as bootstrap.sh names it.
APP_ROLE = "findlabels_app"


def migrate_module() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_migrate", DEPLOY / "migrate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Site:
    url: str
    app_url: str
    folder: Path
    env: dict[str, str]

    def manage(self, *args: str) -> str:
        return run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env).stdout

    def media_root(self) -> Path:
        return self.folder / "var" / "media"

    def assert_logs_are_clean(self) -> None:
        app_log = (self.folder / "gunicorn.log").read_text()
        assert "Traceback" not in app_log and " ERROR " not in app_log, app_log
        assert (self.folder / "error.log").read_text() == ""  # nginx's


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 45
    while True:
        try:
            response = requests.get(url, timeout=5)
            if response.status_code == 200:
                return
            problem = f"{response.status_code} {response.text}"
        except requests.ConnectionError as error:
            problem = str(error)
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer 200 ({problem}):\n{log.read_text()[-5000:]}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes], how: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(how)
    try:
        process.wait(timeout=35)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def production_env(folder: Path, moto: aws_local.LocalAws, **extra: str) -> dict[str, str]:
    """What bootstrap.sh writes to /etc/findlabels/env, pointed at this machine."""
    return {
        # What the unit and bootstrap's as_app give the app, and nothing more.
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        # FINDLABELS_MODE=aws, the region, bucket, pool, client, moto's endpoint
        # and fake credentials.
        **moto.env,
        "DJANGO_SECRET_KEY": "SmokeTestSecretKeyLettersAndDigits0123456789abcdef",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_BEHIND_PROXY": "1",
        "DJANGO_STATIC_ROOT": f"{folder}/var/static",
        "FINDLABELS_VAR_DIR": f"{folder}/var",
        "FINDLABELS_MODEL_CACHE_DIR": f"{folder}/var/models",
        "FINDLABELS_ACCEL_REDIRECT_PREFIX": "/protected-media/",
        "GUNICORN_WORKERS": "2",
        "RUNTIME_DIRECTORY": f"{folder}/run",
        **extra,
    }


@pytest.fixture
def launch(
    request: pytest.FixtureRequest, tmp_path: Path, postgres: Postgres, moto: aws_local.LocalAws
) -> Callable[..., Site]:
    """Start one site: database, migrate and collectstatic, gunicorn, nginx."""

    def start(name: str, **extra: str) -> Site:
        folder = tmp_path / name
        port, app_port = free_port(), free_port()
        wrapper = site_config(folder, port=port, upstream=app_port)
        # What bootstrap.sh writes for this "bucket": presigned URLs point at moto.
        (folder / "instance.conf").write_text(f'set $findlabels_media_origins "{moto.endpoint}";\n')
        (folder / "run").mkdir()
        env = production_env(
            folder,
            moto,
            DATABASE_URL=postgres.create_database(name),
            GUNICORN_BIND=f"127.0.0.1:{app_port}",
            # nginx passes Host without the port (as on port 80), but a browser's
            # Origin carries it: on a test port only, this origin must be named.
            DJANGO_CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{port}",
            **extra,
        )
        site = Site(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{app_port}", folder, env)
        # bootstrap.sh's prepare_app, in its order: migrate.py as the database's
        # owner (it also makes the cache table), then the app as its own role,
        # which may change rows only (as migrate.py grants it on RDS).
        run([sys.executable, "deploy/migrate.py"], cwd=REPO, env=env)
        with (
            psycopg.connect(env["DATABASE_URL"], autocommit=True) as owner,
            owner.cursor() as cursor,
        ):
            migrate_module().ensure_app_role(cursor, name, APP_ROLE, "app-password-1")
        env["DATABASE_URL"] = postgres.url(name).replace("postgres@", f"{APP_ROLE}@")
        site.manage("collectstatic", "--noinput", "--verbosity", "0")

        app_log = folder / "gunicorn.log"
        with app_log.open("w") as log:
            app = subprocess.Popen(
                [str(Path(sys.executable).with_name("gunicorn")), "-c",
                 str(DEPLOY / "gunicorn.conf.py"), "findlabels.wsgi"],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        request.addfinalizer(lambda: stop(app, signal.SIGTERM))
        wait_until_healthy(f"{site.app_url}/healthz", app, app_log)

        nginx = subprocess.Popen(
            nginx_command(wrapper, "-g", "daemon off;"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        request.addfinalizer(lambda: stop(nginx, signal.SIGQUIT))  # nginx's graceful quit
        wait_until_healthy(f"{site.url}/healthz", nginx, folder / "error.log")
        return site

    return start


# --- a person, through nginx ------------------------------------------------------


class Visitor:
    """A requests Session that fills in the CSRF token the way a form does."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.session = requests.Session()

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.site.url + path, timeout=30, **kwargs)

    def submit(self, path: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        """GET the form's page, then POST to it, without following the answer."""
        page = self.get(path)
        assert page.status_code == 200, page.text
        token = CSRF_TOKEN.search(page.text)
        assert token, page.text
        return self.post(path, {**data, "csrfmiddlewaretoken": token.group(1)}, **kwargs)

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> requests.Response:
        # A browser's Origin header, which Django checks against the site.
        headers = {"Origin": self.site.url, "Referer": self.site.url + path}
        return self.session.post(
            self.site.url + path,
            data=data,
            headers=headers,
            allow_redirects=False,
            timeout=60,
            **kwargs,
        )

    def upload(self, *photos: Path) -> requests.Response:
        files = [("images", (photo.name, photo.read_bytes(), "image/jpeg")) for photo in photos]
        return self.submit("/upload/", {}, files=files)

    def cards(self) -> dict[str, tuple[str, str]]:
        """The gallery's cards: original name -> (image id, thumbnail src)."""
        page = self.get("/")
        assert page.status_code == 200, page.text
        return {name: (pk, html.unescape(src)) for pk, src, name in CARD.findall(page.text)}


def assert_security_headers(response: requests.Response, media_origin: str) -> None:
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"  # once: nginx hides the app's copy
    assert response.headers["Referrer-Policy"] == "same-origin"
    policy = response.headers["Content-Security-Policy"]  # the app's, or nginx's copy of it
    assert f"img-src 'self' {media_origin}" in [part.strip() for part in policy.split(";")]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS
    assert "Server" not in response.headers or response.headers["Server"] == "nginx"


def test_aws_mode_sign_up_upload_detect_and_download_through_nginx(
    launch: Callable[..., Site], moto: aws_local.LocalAws, postgres: Postgres
) -> None:
    site = launch("aws")
    person = Visitor(site)
    email = "ada@example.com"
    photos = [PHOTOS / "chelsea_cat.jpg", PHOTOS / "motorcycle.jpg"]

    # Cognito: sign up, confirm with the emailed code (moto takes any), sign in.
    answer = person.submit(
        "/accounts/signup/", {"email": email, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert (answer.status_code, answer.headers.get("Location")) == (302, "/accounts/confirm-email/")
    answer = person.submit("/accounts/confirm-email/", {"email": email, "code": "123456"})
    assert (answer.status_code, answer.headers.get("Location")) == (302, "/accounts/login/")
    answer = person.submit("/accounts/login/", {"login": email, "password": PASSWORD})
    assert (answer.status_code, answer.headers.get("Location")) == (302, "/"), answer.text
    assert "HttpOnly" in answer.headers["Set-Cookie"]

    answer = person.upload(*photos)
    assert (answer.status_code, answer.headers.get("Location")) == (302, "/"), answer.text

    # The gallery: both photos, thumbnails presigned at the bucket and fetched from it.
    page = person.get("/")
    assert_security_headers(page, moto.endpoint)
    assert "Content-Encoding" not in page.headers  # pages are never compressed (BREACH)
    assert "Stored 2 photos." in page.text
    cards = person.cards()
    assert set(cards) == {photo.name for photo in photos}
    bucket_url = f"{moto.endpoint}/{moto.env['AWS_STORAGE_BUCKET_NAME']}/images/"
    for _, src in cards.values():
        assert src.startswith(bucket_url) and "X-Amz-Signature=" in src, src
        thumbnail = requests.get(src, timeout=10)
        assert thumbnail.status_code == 200
        assert PILImage.open(io.BytesIO(thumbnail.content)).format == "JPEG"

    # Detail, Detect (moto's Rekognition finds a mobile phone in anything), labels.
    cat_id, _ = cards["chelsea_cat.jpg"]
    detail = person.get(f"/images/{cat_id}/")
    assert detail.status_code == 200 and "No labels yet" in detail.text
    token = CSRF_TOKEN.search(detail.text)
    assert token
    answer = person.post(f"/images/{cat_id}/detect/", {"csrfmiddlewaretoken": token.group(1)})
    assert (answer.status_code, answer.headers.get("Location")) == (302, f"/images/{cat_id}/")
    detail = person.get(f"/images/{cat_id}/")
    assert "Found 1 label" in detail.text
    # moto answers 99.9; shown, as every confidence, as a whole percent rounded half up.
    assert "Mobile Phone" in detail.text and "100%" in detail.text
    stored = postgres.query(
        "aws",
        "SELECT l.name, i.engine FROM gallery_label l JOIN gallery_image i ON i.id = l.image_id",
    )
    assert stored == [("Mobile Phone", "rekognition")]

    # Media: the app redirects to a presigned URL; the bytes come from the bucket.
    answer = person.get(f"/images/{cat_id}/original", allow_redirects=False)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(bucket_url), location
    original = requests.get(location, timeout=10)
    assert original.status_code == 200
    assert original.content == photos[0].read_bytes()
    # Nobody else gets it, and nginx's internal location is not reachable.
    stranger = requests.get(f"{site.url}/images/{cat_id}/original", allow_redirects=False)
    assert stranger.status_code == 302
    assert stranger.headers["Location"].startswith("/accounts/login/")
    assert requests.get(f"{site.url}/protected-media/x", timeout=10).status_code == 404

    # /healthz through nginx: the database and the bucket.
    health = requests.get(f"{site.url}/healthz", timeout=10)
    assert (health.status_code, health.json()) == (200, {"database": "ok", "storage": "ok"})

    # Static files: collectstatic's copy, sent by nginx with cache headers.
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    assert stylesheet and stylesheet.group(1) == "/static/css/app.css"
    css = requests.get(site.url + stylesheet.group(1), timeout=10)
    assert css.status_code == 200
    assert css.content == (REPO / "static" / "css" / "app.css").read_bytes()
    assert css.headers["Cache-Control"] == "max-age=3600"
    assert "Expires" in css.headers
    assert css.headers["Content-Type"] == "text/css"
    assert_security_headers(css, moto.endpoint)
    site.assert_logs_are_clean()


def test_local_media_is_approved_by_the_app_and_sent_by_nginx(
    launch: Callable[..., Site],
) -> None:
    # The production environment with local media and accounts (an env.local may do this).
    site = launch("local", FINDLABELS_STORAGE="local", FINDLABELS_AUTH="local")
    email, photo = "grace@example.com", PHOTOS / "grace_hopper.jpg"
    site.manage(
        "shell",
        "-c",
        "from accounts.models import User; from allauth.account.models import EmailAddress; "
        f"user = User.objects.create_user(email={email!r}, password={PASSWORD!r}); "
        f"EmailAddress.objects.create(user=user, email={email!r}, verified=True, primary=True)",
    )
    person = Visitor(site)
    answer = person.submit("/accounts/login/", {"login": email, "password": PASSWORD})
    assert (answer.status_code, answer.headers.get("Location")) == (302, "/"), answer.text
    answer = person.upload(photo)
    assert (answer.status_code, answer.headers.get("Location")) == (302, "/"), answer.text

    image_id, thumbnail_src = person.cards()[photo.name]
    assert thumbnail_src == f"/images/{image_id}/thumbnail"
    thumbnail = person.get(thumbnail_src)
    assert thumbnail.status_code == 200 and thumbnail.headers["Content-Type"] == "image/jpeg"
    assert PILImage.open(io.BytesIO(thumbnail.content)).format == "JPEG"

    # The app only approves: an empty answer naming the file for nginx...
    direct = person.session.get(f"{site.app_url}/images/{image_id}/original", timeout=10)
    assert direct.status_code == 200 and direct.content == b""
    accel = direct.headers["X-Accel-Redirect"]
    assert re.fullmatch(r"/protected-media/images/\d+/[0-9a-f]{32}/original\.jpg", accel), accel
    assert (site.media_root() / accel.removeprefix("/protected-media/")).read_bytes() == (
        photo.read_bytes()
    )
    # ...and nginx sends those bytes, exactly, with the app's headers and not its hint.
    original = person.get(f"/images/{image_id}/original")
    assert original.status_code == 200
    assert original.content == photo.read_bytes()
    assert original.headers["Content-Type"] == "image/jpeg"
    assert original.headers["Content-Disposition"] == 'inline; filename="grace_hopper.jpg"'
    assert "X-Accel-Redirect" not in original.headers
    assert_security_headers(original, site.env["AWS_ENDPOINT_URL"])

    # Without the app's yes there is nothing: a stranger, or the internal path itself.
    stranger = requests.get(f"{site.url}/images/{image_id}/original", allow_redirects=False)
    assert stranger.status_code == 302
    assert requests.get(site.url + accel, timeout=10).status_code == 404
    site.assert_logs_are_clean()


def test_a_database_outage_fails_the_deep_check_but_not_liveness(
    launch: Callable[..., Site], postgres: Postgres
) -> None:
    """The load balancer asks /healthz/live: a database outage must not fail it.

    Otherwise an RDS maintenance window or a password rotation would fail every
    target at once and the Auto Scaling group would replace the whole fleet.
    """
    site = launch("outage")

    def health(path: str) -> tuple[int, Any]:
        response = requests.get(f"{site.url}{path}", timeout=30)
        return response.status_code, response.json()

    assert health("/healthz/live") == (200, {"status": "ok"})
    assert health("/healthz") == (200, {"database": "ok", "storage": "ok"})
    # The app holds its connections as its own role, not as the database's owner.
    users = postgres.query(
        "postgres", "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'outage'"
    )
    assert users == [(APP_ROLE,)]

    # The outage: no new connections, and the workers' kept ones cut.
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as admin:
        admin.execute("ALTER DATABASE outage ALLOW_CONNECTIONS false")
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = 'outage'"
        )
    try:
        for _ in range(4):  # each of gunicorn's workers and threads alike
            status, body = health("/healthz")
            assert status == 503
            assert body["database"].startswith("error: ") and body["storage"] == "ok"
            assert health("/healthz/live") == (200, {"status": "ok"})
    finally:
        with psycopg.connect(postgres.url("postgres"), autocommit=True) as admin:
            admin.execute("ALTER DATABASE outage ALLOW_CONNECTIONS true")

    # Back without a restart: dead kept connections are replaced.
    assert health("/healthz") == (200, {"database": "ok", "storage": "ok"})
    assert "Traceback" not in (site.folder / "gunicorn.log").read_text()
