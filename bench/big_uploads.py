"""Memory benchmark: four 49 MP PNGs uploaded at once to one gunicorn worker.

Not a test. One gthread worker (4 threads, as deploy/gunicorn.conf.py runs
them) on SQLite in a scratch folder, labels found at upload by the on-box
engine (the model cache in var/models; ``--no-detect`` leaves it out). After
a warm-up upload the worker's RSS is the baseline; then four clients each
POST one 7000 x 7000 PNG at the same moment, and the worker's peak RSS is
read from VmHWM and from samples every 5 ms.

    .venv/bin/python bench/big_uploads.py [--json] [--no-detect]

The target (issue 10): peak <= baseline + 250 MB. Exit status 1 when missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as `python bench/big_uploads.py`, sys.path[0] is bench/
    sys.path.insert(0, str(ROOT))

from bench.web import (  # noqa: E402
    Row,
    RssSampler,
    Server,
    csrf_token,
    die_with_parent,
    free_port,
    log,
    make_user,
    measured,
    memory_kb,
    multipart,
    report,
    request,
    session_cookie,
    wait_until_ready,
)

SIDE = 7000  # 49 MP
CLIENTS = 4
MAX_GROWTH_MB = 250.0


def settings_env(scratch: Path, detect: bool) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "findlabels.settings",
        "DJANGO_SECRET_KEY": "bench",
        "DJANGO_DEBUG": "0",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "FINDLABELS_VAR_DIR": str(scratch / "var"),
        "FINDLABELS_MODEL_CACHE_DIR": str(ROOT / "var" / "models"),
        "FINDLABELS_DETECT_ON_UPLOAD": "1" if detect else "0",
        "TMPDIR": str(scratch),
    }


@contextmanager
def gthread_worker(scratch: Path, threads: int) -> Iterator[Server]:
    port = free_port()
    log_path = scratch / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "findlabels.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "gthread"]
    command += ["--threads", str(threads), "--timeout", "300", "--no-control-socket"]
    command += ["--error-logfile", str(log_path)]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log_file, stderr=log_file, preexec_fn=die_with_parent
        )
    server = Server(process, port, log_path)
    try:
        wait_until_ready(server, 1)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)


def write_pngs(folder: Path) -> list[Path]:
    """Four different 49 MP photos that still fit the 20 MB upload limit as PNG."""
    from PIL import Image as PILImage

    gradient = PILImage.linear_gradient("L").resize((SIDE, SIDE))
    paths = []
    for n in range(CLIENTS):
        tint = PILImage.new("L", (SIDE, SIDE), 40 * n)
        img = PILImage.merge(
            "RGB", (gradient, tint, gradient.transpose(PILImage.Transpose.ROTATE_90))
        )
        path = folder / f"big-{n}.png"
        img.save(path, "PNG", compress_level=6)
        paths.append(path)
    return paths


def post(server: Server, cookie: str, token: str, photo: Path, answers: list[int]) -> None:
    body, content_type = multipart([photo], {"csrfmiddlewaretoken": token})
    headers = {"Cookie": f"{cookie}; csrftoken={token}", "X-CSRFToken": token,
               "Content-Type": content_type, "X-Requested-With": "XMLHttpRequest"}  # fmt: skip
    status, answer, _ = request(server.port, "POST", "/upload/", body, headers)
    answers.append(json.loads(answer).get("stored", 0) if status == 200 else -status)


def run(detect: bool) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="big-uploads-") as folder:
        scratch = Path(folder)
        os.environ.update(settings_env(scratch, detect))
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        cookie = session_cookie(make_user("big@bench.example"))
        log("writing four 49 MP PNGs")
        photos = write_pngs(scratch)
        warm = scratch / "warm.png"
        from PIL import Image as PILImage

        PILImage.new("RGB", (640, 480), "teal").save(warm)
        with gthread_worker(scratch, threads=CLIENTS) as server:
            worker = server.worker_pids()[0]
            token = csrf_token(server.port, cookie)
            post(server, cookie, token, warm, [])  # loads the engine and the app
            baseline = memory_kb(worker)["VmRSS"]
            sampler, answers = RssSampler(worker), []
            sampler.start()
            started = time.perf_counter()
            clients = [
                threading.Thread(target=post, args=(server, cookie, token, p, answers))
                for p in photos
            ]
            for client in clients:
                client.start()
            for client in clients:
                client.join()
            seconds = time.perf_counter() - started
            sampler.running = False
            after = memory_kb(worker)
        peak = max(after["VmHWM"], sampler.peak_kb)
        where = "1 gthread worker, 4 threads" + (", labels at upload" if detect else "")
        growth = (peak - baseline) / 1024
        return [
            measured("photos stored", sum(a for a in answers if a > 0), "", where, at_least=4),
            measured("PNG size each", photos[0].stat().st_size / 1e6, "MB", where),
            measured("worker RSS baseline (after a warm-up upload)", baseline / 1024, "MB", where),
            measured("worker peak RSS", peak / 1024, "MB", where),
            measured(
                "worker peak growth, 4 x 49 MP at once",
                growth,
                "MB",
                where,
                at_most=MAX_GROWTH_MB,
            ),
            measured("wall time for the four", seconds, "s", where),
        ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print a JSON list of rows")
    parser.add_argument("--no-detect", action="store_true", help="no label engine at upload")
    args = parser.parse_args(argv)
    return report(run(detect=not args.no_detect), as_json=args.json)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
