"""Streams batches of PNG piano rolls from disk, in a reproducible order.

Batch k is a pure function of (seed, k): epoch k // batches_per_epoch is a fresh
seeded permutation of the files. So training resumed at step k sees exactly the
batches an uninterrupted run would have seen, and nothing but the file list is
held in memory. A background thread decodes the next batches while the model trains.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

from midi2img.rollpng import check_roll_png, read_roll_png
from midi2img.spec import IMAGE_SHAPE

MAX_REPORTED = 20  # unusable images named one by one at start; the rest are counted


def list_images(folder: Path, stage: str = "train") -> list[Path]:
    """The usable PNGs of a training folder, sorted; a clear exit if there is none.

    Every file's header is checked (cheap: no pixels are decoded). An unusable one (not a
    PNG, wrong size or mode, unreadable) is named on stderr with the reason and skipped, so
    training never stops half-way on a file it could have refused at the start.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SystemExit(f"{stage}: image folder {folder} does not exist; run `python pipeline.py midi2img` first")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() == ".png" and not p.is_dir())
    if not paths:
        raise SystemExit(f"{stage}: no .png files in {folder}; run `python pipeline.py midi2img` first")
    usable, skipped = [], []
    for path in paths:
        try:
            check_roll_png(path)
        except ValueError as error:  # ImageError: one line each, and training goes on without it
            skipped.append((path, str(error)))
            continue
        usable.append(path)
    for path, reason in skipped[:MAX_REPORTED]:
        print(f"{stage}: {path}: {reason}; skipped", file=sys.stderr)
    if len(skipped) > MAX_REPORTED:
        print(f"{stage}: ... and {len(skipped) - MAX_REPORTED} more unusable images skipped", file=sys.stderr)
    if not usable:
        raise SystemExit(f"{stage}: no usable image in {folder}: all {len(paths)} .png files are unusable "
                         f"(first: {skipped[0][0].name}: {skipped[0][1]}); images must be "
                         f"{IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]} 8-bit grayscale PNGs from `python pipeline.py midi2img`")
    if skipped:
        print(f"{stage}: {len(skipped)} of {len(paths)} images unusable and skipped", file=sys.stderr)
    return usable


def pixels_to_tanh(pixels: np.ndarray | float) -> np.ndarray | float:
    """Pixel levels [0, 255] -> the generator's tanh range [-1, 1]."""
    return pixels / 127.5 - 1.0


def tanh_to_pixels(values: np.ndarray) -> np.ndarray:
    """The generator's tanh range [-1, 1] -> uint8 pixel levels, rounded to the nearest."""
    return np.clip(np.rint((values + 1.0) * 127.5), 0, 255).astype(np.uint8)


def load_roll(path: Path) -> np.ndarray:
    """One PNG as float32 (106, 300, 1) in [-1, 1], the generator's tanh range."""
    try:
        pixels = read_roll_png(path).astype(np.float32)
    except (OSError, ValueError) as error:
        raise SystemExit(f"train: {path}: {error}") from None
    return pixels_to_tanh(pixels)[..., None]


def sample_paths(folder: Path, count: int | None, seed: int = 0, stage: str = "train") -> list[Path]:
    """Up to `count` (None: all) of a folder's usable roll files, a seeded choice: the same every time."""
    paths = list_images(folder, stage)
    if count is not None and count < len(paths):
        chosen = sorted(np.random.default_rng(seed).choice(len(paths), size=count, replace=False))
        paths = [paths[i] for i in chosen]
    return paths


def read_rolls(paths: list[Path], stage: str = "train") -> np.ndarray:
    """Roll files as uint8 (n, 106, 300), with a progress bar."""
    return np.stack([read_roll_png(path) for path in tqdm(paths, desc=f"{stage}: reading rolls", unit="roll",
                                                             leave=False)])


def sample_rolls(folder: Path, count: int | None, seed: int = 0, stage: str = "train") -> np.ndarray:
    """The rolls of `sample_paths`."""
    return read_rolls(sample_paths(folder, count, seed, stage), stage)


class ImageStream:
    """Batches of rolls; `batches(start)` yields (rolls, styles) for batch start, start+1, ... forever.

    Without `classes`, styles is None and each epoch is a seeded permutation of the files. With
    `classes` (each file's style class, 0..n_classes-1), every batch slot draws a class, with
    probability growing as the square root of its share of the files, so that the small classes
    are seen often and the large ones still most; then a file of that class; styles are one-hot.
    """

    def __init__(self, paths: list[Path], batch_size: int, seed: int, prefetch: int = 4,
                 classes: np.ndarray | None = None, n_classes: int = 0):
        if len(paths) < batch_size:
            raise SystemExit(f"train: {len(paths)} images are fewer than one batch of {batch_size}")
        self.paths = paths
        self.batch_size = batch_size
        self.seed = seed
        self.prefetch = prefetch
        self.batches_per_epoch = len(paths) // batch_size
        self.classes, self.n_classes = classes, n_classes
        if classes is not None:
            self.members = [np.flatnonzero(classes == c) for c in range(n_classes)]
            weights = np.sqrt([len(m) for m in self.members])
            self.class_probabilities = weights / weights.sum()

    def batch_indices(self, index: int) -> np.ndarray:
        if self.classes is not None:
            rng = np.random.default_rng([self.seed, 5, index])
            drawn = rng.choice(self.n_classes, self.batch_size, p=self.class_probabilities)
            return np.array([rng.choice(self.members[c]) for c in drawn])
        epoch, position = divmod(index, self.batches_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.paths))
        return order[position * self.batch_size:(position + 1) * self.batch_size]

    def batch_paths(self, index: int) -> list[Path]:
        return [self.paths[i] for i in self.batch_indices(index)]

    def load_batch(self, index: int) -> tuple[np.ndarray, np.ndarray | None]:
        chosen = self.batch_indices(index)
        rolls = np.stack([load_roll(self.paths[i]) for i in chosen])
        if self.classes is None:
            return rolls, None
        return rolls, np.eye(self.n_classes, dtype=np.float32)[self.classes[chosen]]

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
