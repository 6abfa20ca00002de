"""Streams batches of PNG piano rolls from disk, in a reproducible order.

Batch k is a pure function of (seed, k): epoch k // batches_per_epoch is a fresh
seeded permutation of the files. So training resumed at step k sees exactly the
batches an uninterrupted run would have seen, and nothing but the file list is
held in memory. A background thread decodes the next batches while the model trains.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from img2midi.io import read_roll_png


def list_images(folder: Path) -> list[Path]:
    """The PNGs of a training folder, sorted, or a clear exit if there are none."""
    if not folder.is_dir():
        raise SystemExit(f"train: image folder {folder} does not exist; run `python pipeline.py midi2img` first")
    paths = sorted(folder.rglob("*.png"))
    if not paths:
        raise SystemExit(f"train: no .png files in {folder}; run `python pipeline.py midi2img` first")
    return paths


def load_roll(path: Path) -> np.ndarray:
    """One PNG as float32 (106, 300, 1) in [-1, 1], the generator's tanh range."""
    try:
        pixels = read_roll_png(path).astype(np.float32)
    except (OSError, ValueError) as error:
        raise SystemExit(f"train: {path}: {error}") from None
    return (pixels / 127.5 - 1.0)[..., None]


class ImageStream:
    """Batches of rolls; `batches(start)` yields batch start, start+1, ... forever."""

    def __init__(self, paths: list[Path], batch_size: int, seed: int, prefetch: int = 4):
        if len(paths) < batch_size:
            raise SystemExit(f"train: {len(paths)} images are fewer than one batch of {batch_size}")
        self.paths = paths
        self.batch_size = batch_size
        self.seed = seed
        self.prefetch = prefetch
        self.batches_per_epoch = len(paths) // batch_size

    def batch_paths(self, index: int) -> list[Path]:
        epoch, position = divmod(index, self.batches_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.paths))
        chosen = order[position * self.batch_size:(position + 1) * self.batch_size]
        return [self.paths[i] for i in chosen]

    def load_batch(self, index: int) -> np.ndarray:
        return np.stack([load_roll(p) for p in self.batch_paths(index)])

    def batches(self, start: int = 0) -> Iterator[np.ndarray]:
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def produce() -> None:
            index = start
            while not stop.is_set():
                try:
                    item: object = self.load_batch(index)
                except BaseException as error:  # handed to the consumer, which re-raises it
                    item = error
                while not stop.is_set():
                    try:
                        ready.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if isinstance(item, BaseException):
                    return
                index += 1

        worker = threading.Thread(target=produce, daemon=True)
        worker.start()
        try:
            while True:
                item = ready.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stop.set()
