"""Large decodes take turns in a worker, so four big photos at once cost one decode."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

from PIL import Image as PILImage
from PIL import ImageFile

from gallery import imaging
from tests.conftest import make_jpeg, make_png


def most_at_once(monkeypatch: Any, files: list[bytes]) -> int:
    """How many decodes ran at the same moment while threads processed the files."""
    running, peak, lock = 0, 0, threading.Lock()
    real_load = ImageFile.ImageFile.load

    def slow_load(self: Any) -> Any:
        nonlocal running, peak
        if not self.tile:
            return real_load(self)  # already decoded: nothing to count
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        try:
            return real_load(self)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(ImageFile.ImageFile, "load", slow_load)
    done: list[imaging.ProcessedImage] = []

    def process(data: bytes) -> None:
        done.append(imaging.process_upload(io.BytesIO(data), max_pixels=10**9))

    threads = [threading.Thread(target=process, args=(data,)) for data in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(done) == len(files)
    return peak


def test_large_pngs_are_decoded_one_at_a_time(monkeypatch: Any) -> None:
    monkeypatch.setattr(imaging, "LARGE_DECODE_PIXELS", 64 * 48)
    assert most_at_once(monkeypatch, [make_png((64, 48), "RGB") for _ in range(4)]) == 1


def test_large_jpegs_are_decoded_one_at_a_time(monkeypatch: Any) -> None:
    monkeypatch.setattr(imaging, "LARGE_DECODE_PIXELS", 64 * 48)
    files = [make_jpeg((64, 48), (n * 50, 0, 0)) for n in range(4)]
    assert most_at_once(monkeypatch, files) == 1


def test_small_photos_do_not_wait_for_each_other(monkeypatch: Any) -> None:
    assert most_at_once(monkeypatch, [make_png((64, 48), "RGB") for _ in range(4)]) > 1


def test_pixel_blocks_are_above_glibcs_largest_mmap_threshold() -> None:
    # Freed blocks then go back to the system at once instead of staying in a
    # thread's heap: without it four 49 MP uploads kept 750 MB (bench/big_uploads.py).
    assert PILImage.core.get_block_size() > 32 * 1024 * 1024
