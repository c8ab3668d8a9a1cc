"""AWS-mode benchmark: presigning thumbnail URLs, and the gallery page in AWS vs local mode.

Not a test. Everything runs against a local moto server on 127.0.0.1
(``tools.aws_local``), never against AWS, and prints one table, or a JSON list
of rows with ``--json`` (the rows of bench/web.py):

- presigning: ``default_storage.url(name)`` for one gallery page of thumbnail
  names, as the gallery does (django-storages asking botocore), timed over
  many rounds; it must make no network call, and moto must serve the objects
  by its URLs. Over the target, a profile says where the time goes.
- gallery page: the same seeded library (bench/web.py's seeding) served to a
  signed-in user in local mode and in AWS mode (S3 storage, Cognito auth),
  each mode in its own child process configured from the environment. The two
  children are timed in alternating rounds, so other load on the box hits
  both alike. SQLite always; PostgreSQL when a server answers at
  ``--pg-server`` (a bench database is created and dropped again).

    .venv/bin/python bench/aws.py            # full run, 10,000 photos, about a minute
    .venv/bin/python bench/aws.py --quick    # 1,000 photos
    .venv/bin/python bench/aws.py --json

The exit status is 1 when any target is missed.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import logging
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from unittest import mock
from urllib.parse import parse_qsl, urlsplit

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve()
if str(ROOT) not in sys.path:  # run as `python bench/aws.py`, sys.path[0] is bench/
    sys.path.insert(0, str(ROOT))

from bench.web import (  # noqa: E402
    GALLERY,
    PG_SERVER,
    SMALL_LIBRARY,
    Row,
    analyze,
    count_queries,
    database_label,
    empty_page_cache,
    fetch,
    log,
    make_user,
    measured,
    percentile,
    postgres_database,
    report,
    seed_library,
    signed_in_client,
)

THUMBNAILS = 24  # one gallery page; the child checks gallery.views.PAGE_SIZE agrees
PRESIGN_P50_MS = 15.0  # botocore's presigner, through django-storages
PRESIGN_ROUNDS = 200
PROFILE_ROUNDS = 50
MAX_AWS_PCT_OF_LOCAL = 150.0
CHILD_TIMEOUT_S = 300
BIG, SMALL = "big@bench.example", "small@bench.example"
SIGNATURE = "X-Amz-Signature="


@dataclass(frozen=True)
class Scale:
    images: int
    rounds: int
    cold_per_round: int
    cached_per_round: int

    @classmethod
    def of(cls, quick: bool) -> Scale:
        return cls(1_000, 6, 5, 20) if quick else cls(10_000, 10, 5, 20)


# ---------------------------------------------------------------------------
# Parent: the moto server, one seeding child and two serving children per database.


@contextmanager
def local_aws() -> Iterator[dict[str, str]]:
    """moto on 127.0.0.1 with the bucket and user pool; its environment for AWS mode."""
    from tools import aws_local

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    server = aws_local.start()
    log(f"moto server on {server.endpoint}")
    try:
        yield server.env
    finally:
        server.stop()


def base_env() -> dict[str, str]:
    """This environment without any mode, AWS or Cognito choice the caller may have set."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("FINDLABELS_", "AWS_", "COGNITO_", "DATABASE_URL"))
    }
    return {**inherited, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def child_env(
    base: dict[str, str], aws: dict[str, str] | None, database_url: str, folder: Path
) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {
        **base,
        **(aws or {"FINDLABELS_MODE": "local"}),
        "DJANGO_SETTINGS_MODULE": "findlabels.settings",
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_DEBUG": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "FINDLABELS_VAR_DIR": str(folder / "var"),
        "FINDLABELS_DETECT_ON_UPLOAD": "0",
        "TMPDIR": str(folder),
    }


def run_child(role: str, env: dict[str, str], out: Path, quick: bool, *extra: str) -> Any:
    command = [sys.executable, str(SCRIPT), "--child", role, "--out", str(out), *extra]
    command += ["--quick"] if quick else []
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=CHILD_TIMEOUT_S)
    return json.loads(out.read_text())


class Worker:
    """A serving child: one mode, answering one JSON request per line on stdin/stdout."""

    def __init__(self, mode: str, env: dict[str, str]) -> None:
        self.mode = mode
        command = [sys.executable, str(SCRIPT), "--child", "serve"]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.hello: dict[str, Any] = {}

    def ask(self, op: str, **arguments: Any) -> Any:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(json.dumps({"op": op, **arguments}) + "\n")
        stdin.flush()
        return self.read()

    def read(self) -> Any:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.mode} child exited with status {self.process.wait()}")
        answer = json.loads(line)
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"{self.mode} child: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()  # end of input: the child leaves its loop
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@contextmanager
def workers(envs: dict[str, dict[str, str]]) -> Iterator[dict[str, Worker]]:
    """The children start side by side; each says hello once it has warmed up."""
    with ExitStack() as stack:
        started = {}
        for mode, env in envs.items():
            worker = Worker(mode, env)
            stack.callback(worker.close)
            started[mode] = worker
        for worker in started.values():
            worker.hello = worker.read()
        yield started


def presign_leg(base: dict[str, str], aws: dict[str, str], work: Path, args: Any) -> list[Row]:
    folder = work / "presign"
    env = child_env(base, aws, f"sqlite:///{folder / 'unused.sqlite3'}", folder)
    extra = ["--profile"] if args.profile else []
    log("presign: starting child")
    try:
        answer = run_child("presign", env, folder / "rows.json", args.quick, *extra)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log(f"presign: {exc}")
        return [Row("presign leg", "failed; see the log above", "", "completes", False, "-")]
    return [Row.from_json(row) for row in answer]


def database_leg(
    database: str, url: str, base: dict[str, str], aws: dict[str, str], work: Path, quick: bool
) -> list[Row]:
    leg = work / database
    try:
        log(f"{database}: seeding (local mode child)")
        seeded = run_child(
            "seed", child_env(base, None, url, leg / "seed"), leg / "seed.json", quick
        )
        envs = {
            "local": child_env(base, None, url, leg / "local"),
            "aws": child_env(base, aws, url, leg / "aws"),
        }
        log(f"{database}: serving the gallery in both modes")
        with workers(envs) as serving:
            rows = [Row.from_json(row) for row in seeded]
            rows += compare_modes(serving, Scale.of(quick), serving["local"].hello["database"])
    except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log(f"{database}: {exc}")
        return [
            Row(f"{database} leg", "failed; see the log above", "", "completes", False, database)
        ]
    return rows


def compare_modes(serving: dict[str, Worker], scale: Scale, database: str) -> list[Row]:
    aws = serving["aws"]
    config = aws.hello["config"]
    aws_mode = "S3" in config and "Cognito" in config
    rows = [Row("AWS mode child: storage, auth", config, "", "S3, Cognito", aws_mode, database)]
    queries = {mode: worker.ask("queries") for mode, worker in serving.items()}
    for state in ("cold", "cached"):
        pair = queries["local"][state], queries["aws"][state]
        where = "not cached" if state == "cold" else "page cached"
        metric = f"{GALLERY} SQL queries, {where}: local / AWS"
        rows.append(
            Row(metric, f"{pair[0]} / {pair[1]}", "", "equal", pair[0] == pair[1], database)
        )
    small, big = queries["aws"]["cold_small"], queries["aws"]["cold"]
    metric = f"{GALLERY} SQL queries at {SMALL_LIBRARY} / {aws.hello['images']:,} photos (AWS)"
    rows.append(Row(metric, f"{small} / {big}", "", "equal", small == big, database))
    page = aws.ask("page")
    rows.append(
        measured(
            f"{GALLERY} presigned thumbnail URLs per render (AWS)",
            page["presigned"],
            "",
            database,
            at_least=min(THUMBNAILS, aws.hello["images"]),
        )
    )
    cold = interleaved(serving, "cold", scale.rounds, scale.cold_per_round)
    cached = interleaved(serving, "cached", scale.rounds, scale.cached_per_round)
    rows += ratio_rows("not cached", cold, database)
    rows += ratio_rows("page cached", cached, database)
    calls = aws.ask("calls")
    rows.append(
        measured(
            f"AWS HTTP requests while serving {calls['requests']} pages (AWS)",
            calls["http"],
            "",
            database,
            at_most=0,
        )
    )
    return rows


def interleaved(
    serving: dict[str, Worker], state: str, rounds: int, per_round: int
) -> dict[str, list[float]]:
    """Alternating rounds, each mode first in every other one."""
    samples: dict[str, list[float]] = {mode: [] for mode in serving}
    order = list(serving)
    for n in range(rounds):
        for mode in order if n % 2 == 0 else order[::-1]:
            samples[mode] += serving[mode].ask("time", cold=state == "cold", count=per_round)
    return samples


def ratio_rows(where: str, samples: dict[str, list[float]], database: str) -> list[Row]:
    local, aws = (statistics.median(samples[mode]) for mode in ("local", "aws"))
    count = len(samples["aws"])
    return [
        measured(f"{GALLERY} p50, {where}, local mode (n={count})", local, "ms", database),
        measured(f"{GALLERY} p50, {where}, AWS mode (n={count})", aws, "ms", database),
        measured(
            f"{GALLERY} p95, {where}, AWS mode", percentile(samples["aws"], 0.95), "ms", database
        ),
        measured(
            f"{GALLERY} p50, {where}: AWS as % of local",
            aws / local * 100,
            "%",
            database,
            at_most=MAX_AWS_PCT_OF_LOCAL,
        ),
    ]


def run_all(args: argparse.Namespace) -> list[Row]:
    base = base_env()
    with (
        tempfile.TemporaryDirectory(prefix="findlabels-bench-aws-") as tmp,
        local_aws() as aws,
    ):
        work = Path(tmp)
        rows = presign_leg(base, aws, work, args)
        sqlite_url = f"sqlite:///{work / 'sqlite-bench.sqlite3'}"
        rows += database_leg("sqlite", sqlite_url, base, aws, work, args.quick)
        with postgres_database(args.pg_server, not args.skip_postgres) as pg_url:
            if pg_url is None:
                rows.append(Row("PostgreSQL leg", "skipped", "", "-", None, "postgresql"))
            else:
                rows += database_leg("postgresql", pg_url, base, aws, work, args.quick)
    return rows


# ---------------------------------------------------------------------------
# Children: Django configured from the environment.


def setup_django() -> None:
    import django

    django.setup()


@contextmanager
def counted(targets: dict[str, tuple[type, str]]) -> Iterator[Counter[str]]:
    """Count calls of the named methods while the block runs."""
    calls: Counter[str] = Counter()

    def counting(key: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[key] += 1
            return original(*args, **kwargs)

        return wrapper

    with ExitStack() as stack:
        for key, (owner, name) in targets.items():
            stack.enter_context(mock.patch.object(owner, name, counting(key, getattr(owner, name))))
        yield calls


def network_targets() -> dict[str, tuple[type, str]]:
    from botocore.client import BaseClient, ClientCreator
    from botocore.endpoint import Endpoint

    return {
        "api": (BaseClient, "_make_api_call"),
        "http": (Endpoint, "make_request"),
        "clients": (ClientCreator, "create_client"),
    }


# -- presign -----------------------------------------------------------------


def thumbnail_names(count: int) -> list[str]:
    rng = random.Random(7)
    return [
        f"images/1/{uuid.UUID(int=rng.getrandbits(128)).hex}/thumbnail.jpg" for _ in range(count)
    ]


def presign_page(names: list[str]) -> list[str]:
    from django.core.files.storage import default_storage

    return [default_storage.url(name) for name in names]


def presign_child(args: argparse.Namespace) -> list[Row]:
    from django.conf import settings
    from django.core.files.storage import default_storage

    from gallery.views import PAGE_SIZE

    assert PAGE_SIZE == THUMBNAILS, f"gallery pages hold {PAGE_SIZE} photos now"
    names = thumbnail_names(THUMBNAILS)
    started = time.perf_counter()
    default_storage.url(names[0])
    first_ms = (time.perf_counter() - started) * 1000
    backend = type(default_storage._wrapped).__name__  # type: ignore[attr-defined]
    for _ in range(20):
        presign_page(names)
    connection = default_storage.connection  # type: ignore[attr-defined]
    with counted(network_targets()) as calls:
        samples = []
        for _ in range(PRESIGN_ROUNDS):
            started = time.perf_counter()
            presign_page(names)
            samples.append((time.perf_counter() - started) * 1000)
    reused = default_storage.connection is connection  # type: ignore[attr-defined]
    p50 = statistics.median(samples)
    where = f"{THUMBNAILS} thumbnails"
    rows = [
        Row("presign: storage backend", backend, "", "an S3Storage", "S3" in backend, "-"),
        measured(
            f"presign {where}: p50 of {PRESIGN_ROUNDS} rounds",
            p50,
            "ms",
            "-",
            at_most=PRESIGN_P50_MS,
        ),
        measured(f"presign {where}: p95", percentile(samples, 0.95), "ms", "-"),
        measured("presign: one URL, p50", p50 * 1000 / THUMBNAILS, "µs", "-"),
        measured("presign: first URL in a process (makes the client)", first_ms, "ms", "-"),
        Row(
            f"presign: API calls / HTTP requests in {PRESIGN_ROUNDS * THUMBNAILS:,} URLs",
            f"{calls['api']} / {calls['http']}",
            "",
            "0 / 0",
            calls["api"] == calls["http"] == 0,
            "-",
        ),
        Row(
            "presign: S3 clients made while presigning",
            f"{calls['clients']} (thread's connection {'reused' if reused else 'REBUILT'})",
            "",
            "0, reused",
            calls["clients"] == 0 and reused,
            "-",
        ),
        *url_check_rows(names, settings.AWS_STORAGE_BUCKET_NAME),
    ]
    if args.profile or p50 > PRESIGN_P50_MS:
        rows += profile_rows(names, p50 * 1000 / THUMBNAILS)
    return rows


def url_check_rows(names: list[str], bucket: str) -> list[Row]:
    """The URLs are botocore's own at the same second, and moto serves the objects by them."""
    from django.core.files.storage import default_storage

    client = default_storage.connection.meta.client  # type: ignore[attr-defined]
    for name in names:
        client.put_object(Bucket=bucket, Key=name, Body=b"\xff\xd8\xff\xd9")
    urls = presign_page(names)
    same = sum(
        url == botocore_url(client, bucket, name, url)
        for name, url in zip(names, urls, strict=True)
    )
    answered = Counter(status_of(url) for url in urls)
    fine = answered[200]
    detail = ", ".join(f"{status} x{n}" for status, n in sorted(answered.items()))
    return [
        measured(
            "presign: URLs identical to botocore's at that second",
            same,
            "",
            "-",
            at_least=len(names),
        ),
        Row(
            "presign: URLs fetched from moto",
            f"{fine} / {len(urls)} ({detail})",
            "",
            "all 200",
            fine == len(urls),
            "-",
        ),
    ]


def botocore_url(client: Any, bucket: str, name: str, url: str) -> str:
    query = dict(parse_qsl(urlsplit(url).query))
    # Naive UTC, as botocore.auth.get_current_datetime gives it.
    signed_at = datetime.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=signed_at):
        return str(
            client.generate_presigned_url(
                "get_object",
                Params={"Bucket": bucket, "Key": name},
                ExpiresIn=int(query["X-Amz-Expires"]),
            )
        )


def status_of(url: str) -> int:
    parts = urlsplit(url)
    if parts.hostname != "127.0.0.1":  # only ever the local moto server
        raise RuntimeError(f"presigned URL is not on the local moto server: {url}")
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def profile_rows(names: list[str], per_url_us: float) -> list[Row]:
    """Where a presign's time goes: shares of a cProfile run, scaled to the unprofiled time."""
    from botocore import auth, client, credentials, signers
    from django.core.files.storage import default_storage

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(PROFILE_ROUNDS):
        presign_page(names)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def cumulative(function: Any) -> float:
        code = function.__code__
        entry = stats.get((code.co_filename, code.co_firstlineno, code.co_name))
        return float(entry[3]) if entry else 0.0

    total = cumulative(type(default_storage._wrapped).url)  # type: ignore[attr-defined]
    presign = cumulative(signers.generate_presigned_url)
    endpoint = cumulative(client.BaseClient._resolve_endpoint_ruleset)
    serialise = cumulative(client.BaseClient._emit_api_params) + cumulative(
        client.BaseClient._convert_to_request_dict
    )
    signer = cumulative(signers.RequestSigner.get_auth_instance)
    sigv4 = cumulative(auth.SigV4Auth.add_auth)
    stages = {
        "storage url() outside botocore's presign": total - presign,
        "botocore endpoint ruleset resolution": endpoint,
        "botocore param events + serialise/validate": serialise,
        "botocore signer object + credentials": signer,
        "  of which get_frozen_credentials": max(
            cumulative(credentials.Credentials.get_frozen_credentials),
            cumulative(credentials.RefreshableCredentials.get_frozen_credentials),
        ),
        "botocore SigV4 canonical request + HMAC": sigv4,
        "botocore other (sign events, URL assembly)": presign
        - endpoint
        - serialise
        - signer
        - sigv4,
    }
    rows = []
    for name, seconds in stages.items():
        share = seconds / total if total else 0.0
        value = f"{share * 100:.0f} % (~{share * per_url_us:.0f} µs/URL)"
        rows.append(Row(f"presign profile: {name}", value, "", "-", None, "-"))
    return rows


# -- seed and serve ------------------------------------------------------------


def seed_child(args: argparse.Namespace) -> list[Row]:
    from django.core.management import call_command

    database = database_label()
    scale = Scale.of(args.quick)
    busy = measured("machine load average at start", os.getloadavg()[0], "", database)
    call_command("migrate", verbosity=0, interactive=False)
    big, small = make_user(BIG), make_user(SMALL)
    started, rng = time.perf_counter(), random.Random(2024)
    counts = seed_library(big, scale.images, rng)
    seed_library(small, SMALL_LIBRARY, rng)
    analyze()
    log(f"{database}: seeded {counts[0]:,} photos, {counts[1]:,} labels "
        f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    return [
        busy,
        measured("dataset: photos (one person)", counts[0], "", database),
        measured("dataset: labels", counts[1], "", database),
    ]


class Server:
    """What a serving child answers: one signed-in person's gallery in this process."""

    def __init__(self) -> None:
        from django.conf import settings
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(email=BIG)
        self.images = user.images.count()
        self.client = signed_in_client(user)
        self.small_client = signed_in_client(get_user_model().objects.get(email=SMALL))
        for _ in range(5):  # templates, connection, the storage's S3 client
            empty_page_cache()
            fetch(self.client, GALLERY)
            fetch(self.client, GALLERY)
        self.requests = 0
        self.stack = ExitStack()
        self.totals = self.stack.enter_context(counted(network_targets()))
        storage = settings.STORAGES["default"]["BACKEND"].rsplit(".", 1)[1]
        backend = settings.AUTHENTICATION_BACKENDS[0].rsplit(".", 1)[1]
        self.hello = {"database": database_label(), "mode": settings.FINDLABELS_MODE,
                      "config": f"{storage}, {backend}", "images": self.images}  # fmt: skip

    def time(self, cold: bool, count: int) -> list[float]:
        wall = []
        for _ in range(count):
            if cold:
                empty_page_cache()
            started = time.perf_counter()
            fetch(self.client, GALLERY)
            wall.append((time.perf_counter() - started) * 1000)
        self.requests += count
        return wall

    def queries(self) -> dict[str, int]:
        self.requests += 4  # count_queries: a cold render each; a cached page fetched twice
        return {
            "cold_small": count_queries(self.small_client, GALLERY),
            "cold": count_queries(self.client, GALLERY),
            "cached": count_queries(self.client, GALLERY, cold=False),
        }

    def page(self) -> dict[str, int]:
        empty_page_cache()
        self.requests += 1
        html = fetch(self.client, GALLERY).content.decode()
        return {"presigned": html.count(SIGNATURE)}

    def calls_made(self) -> dict[str, int]:
        names = ("api", "http", "clients")
        return {**{name: self.totals[name] for name in names}, "requests": self.requests}


def serve_child() -> None:
    # Answers go out on the original stdout alone; anything else printed goes to stderr.
    channel: IO[str] = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    server = Server()
    handlers: dict[str, Callable[..., Any]] = {
        "time": server.time,
        "queries": server.queries,
        "page": server.page,
        "calls": server.calls_made,
    }
    answer(channel, server.hello)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer(channel, handlers[request.pop("op")](**request))
        except Exception as exc:  # reported to the parent, which stops the leg
            answer(channel, {"error": f"{type(exc).__name__}: {exc}"})
    server.stack.close()


def answer(channel: IO[str], value: Any) -> None:
    channel.write(json.dumps(value) + "\n")
    channel.flush()


def child(args: argparse.Namespace) -> None:
    setup_django()
    if args.child == "serve":
        serve_child()
        return
    rows = presign_child(args) if args.child == "presign" else seed_child(args)
    Path(args.out).write_text(json.dumps([row.as_json() for row in rows]))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 photos, fewer rounds")
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    parser.add_argument("--pg-server", default=PG_SERVER, help="PostgreSQL server URL, no db")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--profile", action="store_true", help="profile presigning even in target")
    parser.add_argument("--child", choices=("presign", "seed", "serve"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


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
