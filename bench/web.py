"""Web benchmark: gallery, search and label pages, throughput under gunicorn, upload speed.

Not a test: it seeds a realistic library (100,000 photos, about 1,000,000
labels and their search index for one person), measures the figures the
issues name and prints one table, or a JSON list of rows with ``--json``.
Each database runs in its own child process with its own settings from the
environment: SQLite always, PostgreSQL when a server answers at
``--pg-server`` (a bench database is created and dropped again).

    .venv/bin/python bench/web.py            # full run, about ten minutes
    .venv/bin/python bench/web.py --quick    # 1,000 photos, shorter load phases
    .venv/bin/python bench/web.py --json

The exit status is 1 when any target is missed.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import math
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"

GALLERY = "/"
FILTERED = "/?label=Cat&min=80"
SEARCH = "/?q=dog"
SEARCH_TWO = "/?q=dog+beach%3E%3D60"
LABELS = "/labels/"
SUGGEST = "/search/suggest/?q=ca"
API_SEARCH = "/api/v1/images/?q=dog"
PAGES = (GALLERY, FILTERED, SEARCH, SEARCH_TWO, LABELS, SUGGEST, API_SEARCH)
# The API's search may cost at most this much more than the HTML search page.
API_RATIO = 1.2
# p50 targets, not cached: the gallery and /labels/ 30 ms, search 50 ms, suggestions 20 ms.
P50_TARGET_MS = {GALLERY: 30.0, FILTERED: 50.0, SEARCH: 50.0, SEARCH_TWO: 50.0, LABELS: 30.0}
P50_TARGET_MS[SUGGEST] = 20.0
P50_TARGET_MS[API_SEARCH] = 50.0
# Rendered pages the gallery view caches; the others are never cached.
CACHED_PAGES = (GALLERY, FILTERED, SEARCH, SEARCH_TWO)
MAX_QUERIES = 8
RATIO_PCT = 40.0
MIN_UPLOAD_IMAGES_PER_S = 5.0
MAX_UPLOAD_RSS_GROWTH_MB = 150.0

UPLOAD_FILES = 10
PHOTO_SIZE = (4000, 3000)
CLIENTS = 16
LOAD_ROUNDS = 5
SMALL_LIBRARY = 100
CHILD_TIMEOUT_S = 3600  # seeding 100,000 photos and their index takes minutes

# The head of the vocabulary is what a photo library really shows most; "Cat" is
# ninth, so Zipf draws put it on about one photo in five, and Cat >= 80 on one in 25.
COMMON_LABELS = [
    "Person", "Outdoors", "Nature", "Plant", "Sky", "Animal", "Tree", "Pet", "Cat", "Dog",
    "Building", "Food", "Water", "Car", "Vehicle", "Grass", "Flower", "Furniture", "Indoors",
    "Face", "Smile", "City", "Road", "Beach", "Mountain", "Cloud", "Bird", "Text", "Chair",
    "Table", "Window", "Clothing", "Sea", "Snow", "Sunset", "Bicycle", "Book", "Cup", "Horse",
    "Boat",
]  # fmt: skip
VOCABULARY_SIZE = 300
ZIPF_EXPONENT = 1.0


@dataclass(frozen=True)
class Scale:
    images: int
    page_requests: int
    load_seconds: float

    @classmethod
    def of(cls, quick: bool) -> Scale:
        return cls(1_000, 20, 3.0) if quick else cls(100_000, 50, 10.0)


@dataclass
class Row:
    metric: str
    value: float | int | str
    unit: str
    target: str
    ok: bool | None
    database: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["pass"] = data.pop("ok")
        if isinstance(self.value, float) and math.isnan(self.value):
            data["value"] = None  # JSON has no NaN
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Row:
        fields = dict(data)
        return cls(ok=fields.pop("pass"), **fields)

    def cells(self) -> list[str]:
        verdict = {True: "pass", False: "FAIL", None: "-"}[self.ok]
        return [
            self.metric,
            format_value(self.value, self.unit),
            self.target,
            verdict,
            self.database,
        ]


def format_value(value: float | int | str, unit: str) -> str:
    if isinstance(value, float):
        text = f"{value:.1f}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = value
    return f"{text} {unit}".strip()


def measured(
    metric: str,
    value: float | int,
    unit: str,
    database: str,
    *,
    at_most: float | None = None,
    at_least: float | None = None,
) -> Row:
    if at_most is not None:
        return Row(
            metric, value, unit, f"<= {at_most:g} {unit}".strip(), value <= at_most, database
        )
    if at_least is not None:
        return Row(
            metric, value, unit, f">= {at_least:g} {unit}".strip(), value >= at_least, database
        )
    return Row(metric, value, unit, "-", None, database)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------
# Parent: photos, one child per database, the PostgreSQL bench database, output.


def write_photos(folder: Path, count: int) -> list[Path]:
    """Distinct 12 MP JPEGs of 3-5 MB: gradients and waves under sensor-like noise."""
    import numpy as np
    from PIL import Image as PILImage

    folder.mkdir(parents=True)
    width, height = PHOTO_SIZE
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    paths = []
    for n in range(count):
        rng = np.random.default_rng(n)
        a, b, c = rng.uniform(0.2, 1.0, 3)
        base = np.empty((height, width, 3), np.float32)
        base[..., 0] = a * x + (1 - a) * y
        base[..., 1] = 128 + 100 * np.sin(x / (20 + 40 * b) + y / (30 + 30 * c))
        base[..., 2] = c * y + (1 - c) * (255 - x)
        # A tiled noise block: as costly to encode and decode as full noise, far cheaper to make.
        noise = np.tile(rng.integers(-17, 18, (600, 800, 3), dtype=np.int16), (5, 5, 1))
        pixels = np.clip(base.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        path = folder / f"bench-{n:02d}.jpg"
        PILImage.fromarray(pixels).save(path, "JPEG", quality=90)
        paths.append(path)
    return paths


@contextmanager
def postgres_database(server: str, enabled: bool) -> Iterator[str | None]:
    """A fresh bench database on the server, dropped again; None when unreachable."""
    if not enabled:
        yield None
        return
    try:
        import psycopg
        from psycopg import sql

        admin = psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=3)
    except Exception as exc:  # any reason the server is not there means "skip the leg"
        log(f"PostgreSQL not reachable at {server}: {exc}")
        yield None
        return
    name = f"findlabels_bench_{os.getpid()}"
    try:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        yield f"{server}/{name}"
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.close()


def run_leg(database: str, url: str, work: Path, photos: Path, quick: bool) -> list[Row]:
    leg = work / database
    leg.mkdir()
    out = leg / "rows.json"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "findlabels.settings",
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_DEBUG": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": url,
        "FINDLABELS_VAR_DIR": str(leg / "var"),
        "FINDLABELS_DETECT_ON_UPLOAD": "0",
        "TMPDIR": str(leg),
    }
    command = [sys.executable, __file__, "--child", database, "--photos", str(photos)]
    command += ["--out", str(out)] + (["--quick"] if quick else [])
    log(f"{database}: starting child")
    try:
        subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=CHILD_TIMEOUT_S)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log(f"{database}: {exc}")
        return [
            Row(f"{database} leg", "failed; see the log above", "", "completes", False, database)
        ]
    return [Row.from_json(row) for row in json.loads(out.read_text())]


def run_all(args: argparse.Namespace) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="findlabels-bench-") as tmp:
        work = Path(tmp)
        log(f"writing {UPLOAD_FILES} photos of {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]}")
        write_photos(work / "photos", UPLOAD_FILES)
        sqlite_url = f"sqlite:///{work / 'sqlite-bench.sqlite3'}"
        rows = (
            []
            if args.skip_sqlite
            else run_leg("sqlite", sqlite_url, work, work / "photos", args.quick)
        )
        with postgres_database(args.pg_server, not args.skip_postgres) as pg_url:
            if pg_url is None:
                rows.append(Row("PostgreSQL leg", "skipped", "", "-", None, "postgresql"))
            else:
                rows += run_leg("postgresql", pg_url, work, work / "photos", args.quick)
    return rows


def print_table(rows: list[Row]) -> None:
    header = ["metric", "value", "target", "pass/fail", "database"]
    table = [header] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for n, line in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


# ---------------------------------------------------------------------------
# Child: one database, Django configured from the environment.


def vocabulary() -> tuple[list[str], list[float]]:
    names = COMMON_LABELS + [f"Label {n:03d}" for n in range(VOCABULARY_SIZE - len(COMMON_LABELS))]
    weights = [1 / (rank**ZIPF_EXPONENT) for rank in range(1, len(names) + 1)]
    return names, list(_cumulative(weights))


def _cumulative(weights: list[float]) -> Iterator[float]:
    total = 0.0
    for weight in weights:
        total += weight
        yield total


def draw_labels(rng: random.Random, names: list[str], cumulative: list[float]) -> list[str]:
    """About ten distinct names per photo, the common ones far more often."""
    wanted = rng.randint(5, 15)
    chosen: dict[str, None] = {}
    while len(chosen) < wanted:
        chosen[rng.choices(names, cum_weights=cumulative)[0]] = None
    return list(chosen)


def seed_library(owner: Any, count: int, rng: random.Random) -> tuple[int, int]:
    """Image rows (storage names, no files), their labels and search index, in batches."""
    done = labels = 0
    tallies: Counter[tuple[str, int]] = Counter()
    while done < count:
        batch = min(SEED_BATCH, count - done)
        labels += seed_batch(owner, done, batch, rng, tallies)
        done += batch
    from gallery.models import LabelTally

    LabelTally.objects.bulk_create(
        (
            LabelTally(owner=owner, name=name, folded=name.casefold(), percent=pct, images=n)
            for (name, pct), n in tallies.items()
        ),
        batch_size=5000,
    )
    return done, labels


SEED_BATCH = 5_000


def seed_batch(
    owner: Any, first: int, count: int, rng: random.Random, tallies: Counter[tuple[str, int]]
) -> int:
    """``count`` photos numbered from ``first``, as Image.replace_labels would store them."""
    from gallery.models import Image, Label, SearchTerm
    from gallery.search import photo_terms, shown_percent

    names, cumulative = vocabulary()
    parents = {
        name: [COMMON_LABELS[rank % 8]] if rank >= 8 else [] for rank, name in enumerate(names)
    }
    start = datetime(2024, 1, 1, tzinfo=UTC)
    images, labels, terms = [], [], []
    for n in range(first, first + count):
        folder = f"images/{owner.pk}/{uuid.UUID(int=rng.getrandbits(128)).hex}"
        image = Image(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            owner=owner,
            original=f"{folder}/original.jpg",
            thumbnail=f"{folder}/thumbnail.jpg",
            original_name=f"IMG_{n:05d}.jpg",
            content_type="image/jpeg",
            size_bytes=rng.randint(2_000_000, 6_000_000),
            width=4000,
            height=3000,
            sha256=hashlib.sha256(f"{owner.pk}-{n}".encode()).hexdigest(),
            uploaded_at=start + timedelta(minutes=7 * n),
            engine="local",
            model_version="bench",
            detected_at=start + timedelta(minutes=7 * n, seconds=2),
        )
        images.append(image)
        drawn = draw_labels(rng, names, cumulative)
        if n == 0 and "Cat" not in drawn:  # even the small library has a match to show
            drawn.append("Cat")
        mine = [
            Label(
                image=image,
                name=name,
                confidence=95.0 if (n == 0 and name == "Cat") else round(rng.uniform(1, 100), 2),
                parents=parents[name],
            )
            for name in drawn
        ]
        labels += mine
        image.tallied = {label.name: shown_percent(label.confidence) for label in mine}
        tallies.update((name, pct) for name, pct in image.tallied.items())
        found = photo_terms(mine, [], {}, image.original_name)
        terms += [
            SearchTerm(
                image=image,
                owner=owner,
                term=term,
                confidence=confidence,
                uploaded_at=image.uploaded_at,
            )
            for term, confidence in found.items()
        ]
    Image.objects.bulk_create(images, batch_size=1000)
    Label.objects.bulk_create(labels, batch_size=5000)
    SearchTerm.objects.bulk_create(terms, batch_size=5000)
    return len(labels)


def make_user(email: str) -> Any:
    from django.contrib.auth import get_user_model

    # No password: hashing one costs a second, and the bench signs in by session.
    return get_user_model().objects.create_user(email=email)


def signed_in_client(user: Any) -> Any:
    from django.test import Client

    # A real host header keeps ALLOWED_HOSTS as in production, without test instrumentation.
    client = Client(HTTP_HOST=HOST)
    client.force_login(user)
    return client


@dataclass
class Timings:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


def empty_page_cache() -> None:
    from django.core.cache import caches

    caches["pages"].clear()


def time_page(client: Any, path: str, count: int, *, cold: bool) -> Timings:
    """Wall and CPU time of each request, served in this process.

    Cold: the rendered-page cache is emptied before each request, so every
    request runs the full queries and templates (the worst case).
    """
    for _ in range(3):  # warm templates and the connection
        fetch(client, path)
    timings = Timings()
    for _ in range(count):
        if cold:
            empty_page_cache()
        wall, cpu = time.perf_counter(), time.process_time()
        fetch(client, path)
        timings.cpu_ms.append((time.process_time() - cpu) * 1000)
        timings.wall_ms.append((time.perf_counter() - wall) * 1000)
    return timings


def fetch(client: Any, path: str) -> Any:
    response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    return response


def count_queries(client: Any, path: str, *, cold: bool = True) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if cold:
        empty_page_cache()
    else:
        fetch(client, path)
    with CaptureQueriesContext(connection) as captured:
        fetch(client, path)
    return len(captured.captured_queries)


def page_rows(big: Any, small: Any, scale: Scale, database: str) -> list[Row]:
    big_client, small_client = signed_in_client(big), signed_in_client(small)
    rows = []
    medians = {}
    for path in PAGES:
        cold = time_page(big_client, path, scale.page_requests, cold=True)
        medians[path] = statistics.median(cold.wall_ms)
        rows += timing_rows(path, cold, database)
        if path in CACHED_PAGES:
            warm = time_page(big_client, path, scale.page_requests, cold=False)
            rows.append(
                measured(
                    f"{path} p50, page cached", statistics.median(warm.wall_ms), "ms", database
                )
            )
    ratio = medians[API_SEARCH] / medians[SEARCH]
    rows.append(
        measured(f"{API_SEARCH} p50 / {SEARCH} p50", ratio, "x", database, at_most=API_RATIO)
    )
    for path in PAGES:
        counts = count_queries(small_client, path), count_queries(big_client, path)
        rows.append(query_row(path, counts, scale.images, database))
        if path in CACHED_PAGES:
            cached = count_queries(big_client, path, cold=False)
            rows.append(measured(f"{path} SQL queries, page cached", cached, "", database))
    return rows


def timing_rows(path: str, timings: Timings, database: str) -> list[Row]:
    limit = P50_TARGET_MS[path]
    wall, cpu = timings.wall_ms, timings.cpu_ms
    return [
        measured(f"{path} p50, not cached", statistics.median(wall), "ms", database, at_most=limit),
        measured(f"{path} p95, not cached", percentile(wall, 0.95), "ms", database),
        # The database server's own CPU is not in it; other load on the box hardly is.
        measured(f"{path} p50 Django CPU time", statistics.median(cpu), "ms", database),
    ]


def query_row(path: str, counts: tuple[int, int], images: int, database: str) -> Row:
    small, big = counts
    metric = f"{path} SQL queries at {SMALL_LIBRARY} / {images:,} photos"
    ok = small == big and big <= MAX_QUERIES
    return Row(metric, f"{small} / {big}", "", f"<= {MAX_QUERIES}, equal", ok, database)


# -- gunicorn ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def worker_pids(self) -> list[int]:
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        return [int(child) for child in children]


def die_with_parent() -> None:
    """Runs in the forked gunicorn master: SIGTERM it if this bench process dies unasked."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@contextmanager
def gunicorn(workers: int, scratch: Path, **env: str) -> Iterator[Server]:
    port = free_port()
    log_path = scratch / f"gunicorn-{port}.log"
    command = [sys.executable, "-m", "gunicorn", "findlabels.wsgi:application"]
    command += ["--bind", f"{HOST}:{port}", "--workers", str(workers), "--worker-class", "sync"]
    command += ["--timeout", "120", "--no-control-socket", "--error-logfile", str(log_path)]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=log_file,
            preexec_fn=die_with_parent,
        )
    server = Server(process, port, log_path)
    try:
        wait_until_ready(server, workers)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_ready(server: Server, workers: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {server.log_path.read_text()[-2000:]}")
        try:
            if request(server.port, "GET", "/healthz")[0] == 200 and (
                len(server.worker_pids()) == workers
            ):
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("gunicorn did not answer /healthz within 30 s")


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, http.client.HTTPMessage]:
    conn = http.client.HTTPConnection(HOST, port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), response.headers
    finally:
        conn.close()


@dataclass
class LoadResult:
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    worker_cpu_s: float = 0.0

    def add(self, other: LoadResult) -> None:
        self.seconds += other.seconds
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.worker_cpu_s += other.worker_cpu_s

    @property
    def worker_cpu_ms_per_request(self) -> float:
        count = len(self.latencies_ms) + sum(self.errors.values())
        return self.worker_cpu_s * 1000 / count if count else math.nan

    @property
    def per_second(self) -> float:
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else math.nan


def load(port: int, path: str, cookie: str, seconds: float, max_requests: int) -> LoadResult:
    """CLIENTS threads, each on one kept-alive connection, bounded by count and time.

    gunicorn's sync worker closes the connection after every response; http.client then
    opens a new one for the next request, as a browser would.
    """
    result = LoadResult()
    lock = threading.Lock()
    budget = iter(range(max_requests))
    deadline = time.perf_counter() + seconds

    def take() -> bool:
        with lock:
            return next(budget, None) is not None and time.perf_counter() < deadline

    def client() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        while take():
            started = time.perf_counter()
            try:
                conn.request("GET", path, headers={"Cookie": cookie})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                errors[type(exc).__name__] += 1
                continue
            if response.status == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors[f"HTTP {response.status}"] += 1
        conn.close()
        with lock:
            result.latencies_ms += latencies
            result.errors += errors

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.perf_counter() - started
    return result


def session_cookie(user: Any) -> str:
    from django.conf import settings

    client = signed_in_client(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(stat[11]) + int(stat[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure_load(server: Server, path: str, cookie: str, seconds: float) -> LoadResult:
    workers = server.worker_pids()
    before = cpu_seconds(workers)
    result = load(server.port, path, cookie, seconds, 200_000)
    result.worker_cpu_s = cpu_seconds(workers) - before
    return result


def throughput_rows(big: Any, scale: Scale, scratch: Path, database: str) -> list[Row]:
    """Healthz against the gallery and a search, with the page cache on and off.

    Alternating slices, so other load on the box hits each alike. "Not cached"
    runs a server with FINDLABELS_GALLERY_CACHE_SECONDS=0: every request
    queries and renders.
    """
    cookie, rows = session_cookie(big), []
    for cached in (False, True):
        env = {} if cached else {"FINDLABELS_GALLERY_CACHE_SECONDS": "0"}
        health, pages = LoadResult(), {GALLERY: LoadResult(), SEARCH: LoadResult()}
        with gunicorn(2, scratch, **env) as server:
            load(server.port, GALLERY, cookie, 1.0, 200)  # warm both workers
            for _ in range(LOAD_ROUNDS):
                slice_seconds = scale.load_seconds / LOAD_ROUNDS
                health.add(measure_load(server, "/healthz", cookie, slice_seconds))
                for path, result in pages.items():
                    result.add(measure_load(server, path, cookie, slice_seconds))
        for path, result in pages.items():
            rows += load_rows(health, path, result, cached, database)
        rows.append(
            errors_row(health.errors + sum((r.errors for r in pages.values()), Counter()), database)
        )
    return rows


def load_rows(
    health: LoadResult, path: str, page: LoadResult, cached: bool, database: str
) -> list[Row]:
    ratio = page.per_second / health.per_second * 100 if health.per_second else 0.0
    where = f"gunicorn 2 sync, {CLIENTS} clients, {'page cached' if cached else 'not cached'}"
    # The target is the served gallery's (page cached, as a person's repeated
    # visits are); the uncached rows beside it show what one render costs.
    target = RATIO_PCT if cached and path == GALLERY else None
    return [
        measured(f"/healthz req/s ({where})", health.per_second, "req/s", database),
        measured(f"{path} req/s ({where})", page.per_second, "req/s", database),
        measured(f"{path} req/s as % of healthz ({where})", ratio, "%", database, at_least=target),
        measured(
            f"{path} worker CPU per request ({where})",
            page.worker_cpu_ms_per_request,
            "ms",
            database,
        ),
        measured(f"{path} p50 under load ({where})", page.p50_ms, "ms", database),
    ]


def errors_row(errors: Counter[str], database: str) -> Row:
    detail = ", ".join(f"{kind} x{n}" for kind, n in errors.most_common())
    total = sum(errors.values())
    return Row(
        "errors under load", f"{total} ({detail})" if total else 0, "", "0", not total, database
    )


# -- upload ------------------------------------------------------------------


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(rest.split()[0])
    return fields


def multipart(files: list[Path], fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        )
        body.write(f"{value}\r\n".encode())
    for path in files:
        body.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="images"; '
            f'filename="{path.name}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
        )
        body.write(path.read_bytes() + b"\r\n")
    body.write(f"--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


def csrf_token(port: int, cookie: str) -> str:
    status, _, headers = request(port, "GET", "/upload/", headers={"Cookie": cookie})
    if status != 200:
        raise RuntimeError(f"GET /upload/ answered {status}")
    jar = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return jar["csrftoken"].value


class RssSampler(threading.Thread):
    """VmRSS every few milliseconds, a second view on the peak besides VmHWM."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak_kb, self.running = pid, 0, True

    def run(self) -> None:
        while self.running:
            self.peak_kb = max(self.peak_kb, memory_kb(self.pid)["VmRSS"])
            time.sleep(0.005)


@dataclass
class UploadResult:
    photos: int
    stored: int
    seconds: float
    body_bytes: int
    before_kb: dict[str, int]
    after_kb: dict[str, int]
    sampled_peak_kb: int
    worker_cpu_s: float

    @property
    def peak_growth_mb(self) -> float:
        # VmHWM is exact when the request raised it; otherwise the peak stayed below the old mark.
        before, after = self.before_kb, self.after_kb
        peak = after["VmHWM"] if after["VmHWM"] > before["VmHWM"] else self.sampled_peak_kb
        return (peak - before["VmRSS"]) / 1024


def post_upload(server: Server, cookie: str, photos: list[Path]) -> UploadResult:
    """One multipart POST of every photo, as the upload page's script sends it."""
    worker = server.worker_pids()[0]
    token = csrf_token(server.port, cookie)
    body, content_type = multipart(photos, {"csrfmiddlewaretoken": token})
    headers = {"Cookie": f"{cookie}; csrftoken={token}", "X-CSRFToken": token,
               "Content-Type": content_type, "X-Requested-With": "XMLHttpRequest"}  # fmt: skip
    before, cpu, sampler = memory_kb(worker), cpu_seconds([worker]), RssSampler(worker)
    sampler.start()
    started = time.perf_counter()
    status, answer, _ = request(server.port, "POST", "/upload/", body, headers)
    seconds = time.perf_counter() - started
    sampler.running = False
    stored = json.loads(answer).get("stored", 0) if status == 200 else 0
    cpu = cpu_seconds([worker]) - cpu
    return UploadResult(len(photos), stored, seconds, len(body), before, memory_kb(worker),
                        sampler.peak_kb, cpu)  # fmt: skip


def upload_rows(uploader: Any, photos: list[Path], scratch: Path, database: str) -> list[Row]:
    cookie = session_cookie(uploader)
    with gunicorn(1, scratch) as server:  # fresh, so VmHWM says what this request needed
        result = post_upload(server, cookie, photos)
    size = f"{result.photos} x 12 MP JPEG, {result.body_bytes / 1e6:.0f} MB"
    kept_mb = (result.after_kb["VmRSS"] - result.before_kb["VmRSS"]) / 1024
    return [
        measured("upload: photos stored", result.stored, "", database, at_least=result.photos),
        measured(
            f"upload: {size}",
            result.stored / result.seconds,
            "img/s",
            database,
            at_least=MIN_UPLOAD_IMAGES_PER_S,
        ),
        measured(
            "upload: worker CPU per photo",
            result.worker_cpu_s * 1000 / result.photos,
            "ms",
            database,
        ),
        measured(
            "upload: worker peak RSS growth",
            result.peak_growth_mb,
            "MB",
            database,
            at_most=MAX_UPLOAD_RSS_GROWTH_MB,
        ),
        measured("upload: worker RSS kept after", kept_mb, "MB", database),
    ]


# -- child main --------------------------------------------------------------


def dataset_rows(big: Any, counts: tuple[int, int], database: str) -> list[Row]:
    from gallery.models import Image

    matching = Image.objects.with_label(big, "Cat", 80).count()
    return [
        measured("dataset: photos (one person)", counts[0], "", database),
        measured("dataset: labels", counts[1], "", database),
        measured("dataset: photos matching Cat >= 80", matching, "", database),
    ]


def analyze() -> None:
    """PostgreSQL's autovacuum would have vacuumed and analysed a library this size
    (vacuum sets the visibility map that index-only scans need); nothing in the app
    analyses SQLite, so it stays as production would have it."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def database_label() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        connection.ensure_connection()
        return f"postgresql {connection.connection.info.server_version // 10000}"
    import sqlite3

    return f"{connection.vendor} {sqlite3.sqlite_version}"


def child(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    scale, scratch, database = Scale.of(args.quick), Path(args.out).parent, database_label()
    busy = measured("machine load average at start", os.getloadavg()[0], "", database)
    call_command("migrate", verbosity=0, interactive=False)
    big, small, uploader = (make_user(f"{who}@bench.example") for who in ("big", "small", "up"))
    log(f"{database}: seeding {scale.images:,} photos")
    started, rng = time.perf_counter(), random.Random(2024)
    counts = seed_library(big, scale.images, rng)
    seed_library(small, SMALL_LIBRARY, rng)
    analyze()
    log(f"{database}: seeded {counts[1]:,} labels in {time.perf_counter() - started:.1f} s")
    photos = sorted(Path(args.photos).glob("*.jpg"))
    steps: list[tuple[str, Callable[[], list[Row]]]] = [
        ("pages", lambda: page_rows(big, small, scale, database)),
        ("throughput", lambda: throughput_rows(big, scale, scratch, database)),
        ("upload", lambda: upload_rows(uploader, photos, scratch, database)),
    ]
    rows = [busy, *dataset_rows(big, counts, database)]
    for name, step in steps:
        log(f"{database}: {name}")
        rows += step()
    Path(args.out).write_text(json.dumps([row.as_json() for row in rows]))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 photos, short load phases")
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    parser.add_argument("--pg-server", default=PG_SERVER, help="PostgreSQL server URL, no db")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--child", choices=("sqlite", "postgresql"), help=argparse.SUPPRESS)
    parser.add_argument("--photos", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def report(rows: list[Row], *, as_json: bool) -> int:
    """Print the rows as a table or JSON; the exit status says whether all passed."""
    if as_json:
        print(json.dumps([row.as_json() for row in rows], indent=2))
    else:
        print_table(rows)
    return 0 if all(row.ok is not False for row in rows) else 1


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.child:
        child(args)
        return 0
    started = time.perf_counter()
    rows = run_all(args)
    log(f"done in {time.perf_counter() - started:.0f} s")
    return report(rows, as_json=args.json)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
