"""Load benchmark: many people at once against gunicorn, then an audit for lost or orphaned photos.

Not a test. gunicorn runs with production settings (DEBUG off, deploy/gunicorn.conf.py,
2 workers) on the loopback, on PostgreSQL, in local mode (files under a fresh
media folder, allauth accounts, the on-box engine finding labels at upload).
``--users`` virtual people (32) each sign in, then for ``--seconds`` (60) repeat a
weighted mix of what a person does (MIX below), each request with a timeout.
After the run a child process audits the database and the media folder: rows
whose files are missing, files no row names, and photos a person was told were
stored but that are gone (or were deleted but are still there).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test_guards .venv/bin/python bench/load.py
    .venv/bin/python bench/load.py --seconds 20 --users 8 --json

Every request is counted per kind: errors (exceptions, timeouts, unexpected
statuses), p50 and p95 of the answered ones. The exit status is 1 when there
was any error or any lost or orphaned photo. The database is migrated; the
bench's own accounts (``@load.bench``) are removed first and afterwards.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
if str(ROOT) not in sys.path:  # run as `python bench/load.py`, sys.path[0] is bench/
    sys.path.insert(0, str(ROOT))

from bench.web import (  # noqa: E402
    HOST,
    Row,
    die_with_parent,
    free_port,
    log,
    measured,
    percentile,
    report,
)

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/test_guards"
EMAIL_DOMAIN = "load.bench"
PASSWORD = "Load-Bench-Password-42"
WORKERS = 2
REQUEST_TIMEOUT_S = 60  # longer than any answer should take; a hung worker shows as an error
STOP_GRACE_S = 90  # after the deadline, in-flight requests may finish this long
CHILD_TIMEOUT_S = 300
START_PHOTOS = 2  # each person uploads this many before the mix starts
PHOTO_POOL = 240
SEARCH_WORDS = ["Person", "Cat", "Dog", "Animal", "Clothing", "Vehicle", "Food", "Plant"]

# What one person does, by weight. Search is the gallery filtered by label
# (`/?label=...`) until the search box exists.
MIX: dict[str, int] = {
    "gallery": 25,
    "search": 12,
    "detail": 15,
    "thumbnails": 20,  # the gallery page's thumbnails, one after another
    "upload": 10,
    "detect": 6,
    "delete": 6,
    "sign-in": 6,  # a fresh session: sign-in page, then the form
}
IMAGE_LINK = re.compile(r'href="/images/([0-9a-f-]{36})/"')


# ---------------------------------------------------------------------------
# Children: Django set up from the environment.


def setup_child(users: int) -> dict[str, Any]:
    import django

    django.setup()
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    User = get_user_model()
    User.objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
    password = make_password(PASSWORD)  # hashed once: the hash is slow on purpose
    emails = [f"person{n:02d}@{EMAIL_DOMAIN}" for n in range(users)]
    made = User.objects.bulk_create([User(email=email, password=password) for email in emails])
    EmailAddress.objects.bulk_create(
        [EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in made]
    )
    return {"emails": emails}


def audit_child() -> dict[str, Any]:
    """What the database and the media folder hold for the bench's people, cross-checked."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.files.storage import default_storage

    from gallery.models import Image

    rows = Image.objects.filter(owner__email__endswith=f"@{EMAIL_DOMAIN}")
    named: set[str] = set()
    rows_without_files = []
    per_person: Counter[str] = Counter()
    ids: dict[str, list[str]] = {}
    for image in rows.select_related("owner"):
        per_person[image.owner.email] += 1
        ids.setdefault(image.owner.email, []).append(str(image.pk))
        for name in image.stored_names():
            named.add(name)
            if not default_storage.exists(name):
                rows_without_files.append(name)
    media = Path(settings.MEDIA_ROOT)
    files = [p.relative_to(media).as_posix() for p in media.rglob("*") if p.is_file()]
    empty_folders = [
        p.relative_to(media).as_posix()
        for p in media.rglob("*")
        if p.is_dir() and not any(p.iterdir())
    ]
    return {
        "rows": sum(per_person.values()),
        "per_person": dict(per_person),
        "ids": ids,
        "rows_without_files": rows_without_files,
        "files_without_rows": sorted(set(files) - named),
        "empty_folders": empty_folders,
    }


def teardown_child() -> dict[str, Any]:
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    deleted, _ = get_user_model().objects.filter(email__endswith=f"@{EMAIL_DOMAIN}").delete()
    return {"deleted": deleted}


def run_child(role: str, env: dict[str, str], *extra: str) -> Any:
    command = [sys.executable, str(SCRIPT), "--child", role, *extra]
    done = subprocess.run(
        command, cwd=ROOT, env=env, check=True, timeout=CHILD_TIMEOUT_S, capture_output=True
    )
    return json.loads(done.stdout)


# ---------------------------------------------------------------------------
# Parent: the server.


def server_env(database_url: str, var_dir: Path, port: int) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FINDLABELS_", "AWS_", "COGNITO_", "DJANGO_", "GUNICORN_"))
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "findlabels.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "load-bench-" + uuid.uuid4().hex,
        "DJANGO_LOG_LEVEL": "WARNING",
        # Each virtual person comes from their own address (X-Real-IP), as
        # behind nginx; allauth's per-address sign-in limits then apply per person.
        "DJANGO_BEHIND_PROXY": "1",
        "DATABASE_URL": database_url,
        "FINDLABELS_MODE": "local",
        "FINDLABELS_VAR_DIR": str(var_dir),
        "FINDLABELS_MODEL_CACHE_DIR": str(ROOT / "var" / "models"),
        "GUNICORN_BIND": f"{HOST}:{port}",
        "GUNICORN_WORKERS": str(WORKERS),
        "TMPDIR": str(var_dir),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


@contextmanager
def gunicorn(env: dict[str, str], port: int, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    command = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")]
    command += ["--no-control-socket", "--error-logfile", str(log_path), "findlabels.wsgi"]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log_file, stderr=log_file,
            preexec_fn=die_with_parent,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{log_path.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection(HOST, port, timeout=5)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            finally:
                connection.close()
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def photo_pool(count: int, seed: int = 11) -> list[bytes]:
    """Distinct small JPEGs (a person cannot store the same bytes twice)."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    photos = []
    for _ in range(count):
        image = Image.new("RGB", (800, 600), tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.randrange(700), rng.randrange(500)
            box = (x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300))
            draw.ellipse(box, fill=tuple(rng.randrange(256) for _ in range(3)))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=85)
        photos.append(out.getvalue())
    return photos


# ---------------------------------------------------------------------------
# Parent: the people.


class Unexpected(Exception):
    """An answer that is not what the person should get."""


@dataclass
class Tally:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, Counter[str]] = field(default_factory=dict)
    stored: Counter[str] = field(default_factory=Counter)  # per person, as the app said
    deleted: Counter[str] = field(default_factory=Counter)
    deleted_ids: set[str] = field(default_factory=set)
    http_requests: int = 0
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, kind: str, ms: float) -> None:
        with self.lock:
            self.latencies_ms.setdefault(kind, []).append(ms)

    def error(self, kind: str, what: str) -> None:
        with self.lock:
            self.errors.setdefault(kind, Counter())[what] += 1


class Person:
    """One virtual person: their own session, address and photos, one request at a time."""

    def __init__(self, number: int, email: str, port: int, pool: list[bytes], tally: Tally) -> None:
        self.email, self.port, self.pool, self.tally = email, port, pool, tally
        self.rng = random.Random(number)
        self.address = f"198.51.100.{number + 1}"
        self.cookies: dict[str, str] = {}
        self.photos: list[str] = []
        self.next_photo = number * (len(pool) // 64 + 1)

    # -- HTTP ---------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes, http.client.HTTPMessage]:
        sent = {"X-Real-IP": self.address, "Host": f"{HOST}:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        with self.tally.lock:
            self.tally.http_requests += 1
        connection = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        jar = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        for name, morsel in jar.items():
            self.cookies[name] = morsel.value
        return response.status, content, response.headers

    @staticmethod
    def expect(status: int, wanted: int) -> None:
        if status != wanted:
            raise Unexpected(f"HTTP {status}")

    def post_form(self, path: str, fields: dict[str, str]) -> tuple[int, bytes]:
        token = self.cookies.get("csrftoken", "")
        body = urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded",
                   "Origin": f"http://{HOST}:{self.port}"}  # fmt: skip
        status, content, _ = self.request("POST", path, body, headers)
        return status, content

    # -- what a person does --------------------------------------------------

    def sign_in(self) -> None:
        self.cookies.clear()
        status, _, _ = self.request("GET", "/accounts/login/")
        self.expect(status, 200)
        status, _ = self.post_form("/accounts/login/", {"login": self.email, "password": PASSWORD})
        self.expect(status, 302)

    def gallery(self) -> None:
        status, page, _ = self.request("GET", "/")
        self.expect(status, 200)
        self.photos = list(dict.fromkeys(IMAGE_LINK.findall(page.decode())))

    def search(self) -> None:
        word = self.rng.choice(SEARCH_WORDS)
        status, _, _ = self.request("GET", "/?" + urlencode({"label": word}))
        self.expect(status, 200)

    def detail(self) -> None:
        if not self.photos:
            return self.gallery()
        status, _, _ = self.request("GET", f"/images/{self.rng.choice(self.photos)}/")
        self.expect(status, 200)
        return None

    def thumbnails(self) -> None:
        for image_id in self.photos[:24]:
            status, content, _ = self.request("GET", f"/images/{image_id}/thumbnail")
            self.expect(status, 200)
            if not content.startswith(b"\xff\xd8"):
                raise Unexpected("thumbnail is not a JPEG")

    def upload(self, tally: Tally) -> None:
        photo = self.pool[self.next_photo % len(self.pool)]
        self.next_photo += 1
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="images"; '
                f'filename="load-{self.next_photo}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
            + photo
            + f"\r\n--{boundary}--\r\n".encode()
        )
        token = self.cookies.get("csrftoken", "")
        if not token:
            status, _, _ = self.request("GET", "/upload/")
            self.expect(status, 200)
            token = self.cookies["csrftoken"]
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "X-CSRFToken": token, "X-Requested-With": "XMLHttpRequest",
                   "Origin": f"http://{HOST}:{self.port}"}  # fmt: skip
        status, content, _ = self.request("POST", "/upload/", body, headers)
        self.expect(status, 200)
        stored = json.loads(content).get("stored", 0)
        with tally.lock:
            tally.stored[self.email] += stored
        if stored != 1:
            raise Unexpected("a new photo was not stored")

    def detect(self) -> None:
        if not self.photos:
            return self.gallery()
        self.ensure_csrf()
        status, _ = self.post_form(f"/images/{self.rng.choice(self.photos)}/detect/", {})
        self.expect(status, 302)
        return None

    def delete(self, tally: Tally) -> None:
        if len(self.photos) <= START_PHOTOS:  # keep a few to look at
            return self.gallery()
        image_id = self.photos.pop(self.rng.randrange(len(self.photos)))
        self.ensure_csrf()
        status, _ = self.post_form(f"/images/{image_id}/delete/", {})
        self.expect(status, 302)
        with tally.lock:
            tally.deleted[self.email] += 1
            tally.deleted_ids.add(image_id)
        return None

    def ensure_csrf(self) -> None:
        if "csrftoken" not in self.cookies:
            status, _, _ = self.request("GET", "/upload/")
            self.expect(status, 200)


def act(person: Person, kind: str, tally: Tally) -> Callable[[], None]:
    actions: dict[str, Callable[[], None]] = {
        "gallery": person.gallery,
        "search": person.search,
        "detail": person.detail,
        "thumbnails": person.thumbnails,
        "upload": lambda: person.upload(tally),
        "detect": person.detect,
        "delete": lambda: person.delete(tally),
        "sign-in": person.sign_in,
    }
    return actions[kind]


def timed(kind: str, action: Callable[[], None], tally: Tally) -> None:
    started = time.perf_counter()
    try:
        action()
    except Unexpected as exc:
        tally.error(kind, str(exc))
    except TimeoutError:
        tally.error(kind, "timeout")
    except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
        tally.error(kind, type(exc).__name__)
    else:
        tally.ok(kind, (time.perf_counter() - started) * 1000)


class Window:
    """The timed part of the run: it starts once every person has warmed up."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.began = self.end = math.inf

    def open(self) -> None:
        self.began = time.monotonic()
        self.end = self.began + self.seconds


def run_person(person: Person, tally: Tally, ready: threading.Barrier, window: Window) -> None:
    # Warm-up, outside the timed window and its figures (its errors count):
    # sign in, a few photos, the gallery.
    def warm_up() -> None:
        person.sign_in()
        for _ in range(START_PHOTOS):
            person.upload(tally)
        person.gallery()

    timed("warm-up", warm_up, tally)
    ready.wait()
    kinds, weights = list(MIX), list(MIX.values())
    while time.monotonic() < window.end:
        kind = person.rng.choices(kinds, weights)[0]
        timed(kind, act(person, kind, tally), tally)


def run_load(port: int, emails: list[str], seconds: float) -> tuple[Tally, float]:
    pool = photo_pool(max(PHOTO_POOL, len(emails) * 8))
    tally, window = Tally(), Window(seconds)
    # The last person to arrive opens the window, before anyone goes on.
    ready = threading.Barrier(len(emails), action=window.open)
    people = [Person(n, email, port, pool, tally) for n, email in enumerate(emails)]
    threads = [
        threading.Thread(target=run_person, args=(p, tally, ready, window), daemon=True)
        for p in people
    ]
    for thread in threads:
        thread.start()
    warm_until = time.monotonic() + CHILD_TIMEOUT_S
    while window.began == math.inf:
        if time.monotonic() > warm_until or not any(t.is_alive() for t in threads):
            raise RuntimeError("the people did not finish warming up")
        time.sleep(0.05)
    log(f"{len(people)} people signed in with {START_PHOTOS} photos each; load for {seconds:.0f} s")
    for thread in threads:
        thread.join(timeout=max(0.0, window.end + STOP_GRACE_S - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        tally.error("run", f"{stuck} people still waiting {STOP_GRACE_S} s after the end")
    return tally, time.monotonic() - window.began


# ---------------------------------------------------------------------------
# Report.


def rows_for(tally: Tally, elapsed: float, audit: dict[str, Any], users: int) -> list[Row]:
    where = f"{users} people, gunicorn {WORKERS} workers"
    rows: list[Row] = []
    total_ok = sum(len(v) for v in tally.latencies_ms.values())
    total_errors = sum(sum(c.values()) for c in tally.errors.values())
    mix = ", ".join(f"{kind} {weight}" for kind, weight in MIX.items())
    rows.append(measured("machine load average at start", tally.load_average, "", "-"))
    rows.append(Row("mix (weights)", mix, "", "-", None, "-"))
    rows.append(measured(f"actions answered ({where})", total_ok, "", "postgresql"))
    rows.append(measured("HTTP requests made", tally.http_requests, "", "-"))
    rows.append(measured("actions per second", total_ok / elapsed if elapsed else 0, "/s", "-"))
    for kind in [*MIX, "warm-up", "run"]:
        samples = tally.latencies_ms.get(kind, [])
        errors = tally.errors.get(kind, Counter())
        if not samples and not errors:
            continue
        count = sum(errors.values())
        detail = ", ".join(f"{what} x{n}" for what, n in errors.most_common())
        rows.append(
            Row(
                f"{kind}: errors of {len(samples) + count}",
                f"{count} ({detail})" if count else 0,
                "",
                "0",
                not count,
                "-",
            )
        )
        if samples:
            rows.append(measured(f"{kind}: p50", percentile(samples, 0.5), "ms", "-"))
            rows.append(measured(f"{kind}: p95", percentile(samples, 0.95), "ms", "-"))
    rows.append(measured("errors, all kinds", total_errors, "", "-", at_most=0))
    rows += audit_rows(tally, audit)
    return rows


def audit_rows(tally: Tally, audit: dict[str, Any]) -> list[Row]:
    # What each person was told: photos stored (warm-up included) minus photos deleted.
    expected = {
        e: tally.stored[e] - tally.deleted[e] for e in set(tally.stored) | set(tally.deleted)
    }
    held = audit["per_person"]
    lost = sum(max(0, expected[e] - held.get(e, 0)) for e in expected)
    extra = sum(max(0, held.get(e, 0) - expected.get(e, 0)) for e in held)
    still_there = sum(i in tally.deleted_ids for ids in audit["ids"].values() for i in ids)
    return [
        measured("photos held after the run", audit["rows"], "", "postgresql"),
        measured("lost photos (stored, not deleted, no row)", lost, "", "-", at_most=0),
        measured("photo rows the people did not make", extra, "", "-", at_most=0),
        measured("deleted photos still listed", still_there, "", "-", at_most=0),
        measured("rows without files", len(audit["rows_without_files"]), "", "-", at_most=0),
        measured("files without rows", len(audit["files_without_rows"]), "", "-", at_most=0),
        measured("empty folders left in media", len(audit["empty_folders"]), "", "-"),
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE))
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    parser.add_argument("--child", choices=("setup", "audit", "teardown"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        handlers = {"setup": lambda: setup_child(args.users), "audit": audit_child,
                    "teardown": teardown_child}  # fmt: skip
        print(json.dumps(handlers[args.child]()))
        return 0
    if not args.database_url.startswith("postgres"):
        parser.error("--database-url must be a PostgreSQL URL (production's database)")
    with tempfile.TemporaryDirectory(prefix="findlabels-bench-load-") as tmp:
        port = free_port()
        env = server_env(args.database_url, Path(tmp) / "var", port)
        (Path(tmp) / "var").mkdir()
        emails = run_child("setup", env, "--users", str(args.users))["emails"]
        try:
            with gunicorn(env, port, Path(tmp) / "gunicorn.log"):
                tally, elapsed = run_load(port, emails, args.seconds)
            audit = run_child("audit", env)
        finally:
            run_child("teardown", env)
        log(f"load ran {elapsed:.1f} s; {audit['rows']} photos held afterwards")
    return report(rows_for(tally, elapsed, audit, args.users), as_json=args.json)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
