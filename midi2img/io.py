"""Thin I/O around the midi2img core: parse MIDI with symusic, write PNGs, run a folder on all cores."""

from __future__ import annotations

import csv
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from midi2img.atomic import atomic_path
from midi2img.core import (
    SUSTAIN_CC,
    extend_by_pedal,
    notes_to_roll,
    pedal_intervals,
    quantize_notes,
    roll_windows,
)
from midi2img.spec import STEPS_PER_BEAT, empty_notes

# zlib level 1: measured on MAESTRO, levels 1..9 differ little in size for these sparse rolls
# but higher levels cost several times the CPU (see bench/results.md).
PNG_COMPRESS_LEVEL = 1
MIDI_SUFFIXES = (".mid", ".midi")
SPLITS = ("train", "validation", "test")
MAESTRO_HELP = (
    "get MAESTRO v2.0.0 MIDI from https://magenta.tensorflow.org/datasets/maestro "
    "(maestro-v2.0.0-midi.zip), unzip it to data/maestro-v2.0.0, "
    "or pass --midi-dir ../shared/data/maestro-v2.0.0"
)


@dataclass
class ConvertSummary:
    """What a folder conversion did; pipeline.py exits non-zero when failures > 0."""

    files: int = 0
    images: int = 0
    notes: int = 0
    dropped_notes: int = 0
    failures: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"midi2img: {self.files} files, {self.images} images, {self.notes} notes, "
                f"{self.dropped_notes} dropped notes, {self.failures} failures, {self.seconds:.1f} s")


def read_midi_notes(path: Path, steps_per_beat: int = STEPS_PER_BEAT, sustain: bool = True) -> tuple[np.ndarray, int]:
    """Notes (n, 3) of every non-drum track of a MIDI file on its step grid, and the count dropped for pitch range.

    The sustain pedal (CC64) of each track extends that track's notes unless sustain=False.
    """
    import symusic  # imported here so that importing the package stays cheap for img2midi users

    score = symusic.Score(str(path))
    tpq = int(score.ticks_per_quarter)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for track in score.tracks:
        if track.is_drum:
            continue
        n = track.notes.numpy()
        if len(n["time"]) == 0:
            continue
        starts = n["time"].astype(np.int64)
        ends = starts + n["duration"].astype(np.int64)
        if sustain:
            c = track.controls.numpy()
            is_pedal = c["number"] == SUSTAIN_CC
            times, values = c["time"][is_pedal], c["value"][is_pedal]
            order = np.argsort(times, kind="stable")
            ends = extend_by_pedal(ends, *pedal_intervals(times[order], values[order], int(ends.max())))
        parts.append((n["pitch"].astype(np.int64), starts, ends))
    if not parts:
        return empty_notes(), 0
    pitches, starts, ends = (np.concatenate(a) for a in zip(*parts, strict=True))
    return quantize_notes(pitches, starts, ends, tpq, steps_per_beat)


def write_png_atomic(image: np.ndarray, path: Path) -> None:
    """Save a uint8 2-D array as an 8-bit grayscale PNG without ever exposing a partial file."""
    with atomic_path(path) as tmp:
        Image.fromarray(image, mode="L").save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


def convert_file(path: Path, out_dir: Path, steps_per_beat: int = STEPS_PER_BEAT,
                 sustain: bool = True) -> tuple[int, int, int]:
    """Write `<stem>_<window:04d>.png` for each non-silent window of one MIDI file; returns (images, notes, dropped).

    Raises ValueError("no notes") for a file without a note in range, so the batch reports it as a failure.
    """
    notes, dropped = read_midi_notes(path, steps_per_beat, sustain)
    if len(notes) == 0:
        raise ValueError("no notes" + (f" in pitch range ({dropped} dropped)" if dropped else ""))
    windows = roll_windows(notes_to_roll(notes, int(notes[:, 2].max())))
    for index, image in windows:
        write_png_atomic(image, out_dir / f"{path.stem}_{index:04d}.png")
    return len(windows), len(notes), dropped


def find_midi_files(midi_dir: Path) -> list[Path]:
    """All .mid/.midi files below midi_dir (any letter case), sorted so runs are reproducible."""
    return sorted(p for p in midi_dir.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def read_splits(midi_dir: Path) -> dict[str, str]:
    """midi_filename (posix, relative to midi_dir) -> split, from a MAESTRO CSV in midi_dir; {} when there is none."""
    csvs = sorted(midi_dir.glob("maestro-v*.csv"))
    if not csvs:
        return {}
    with csvs[0].open(newline="", encoding="utf-8") as f:
        return {row["midi_filename"]: row["split"] for row in csv.DictReader(f) if row.get("split") in SPLITS}


def _convert_job(job: tuple[Path, Path, int, bool]) -> tuple[Path, tuple[int, int, int] | None, str]:
    """Pool worker: never raises, so one bad file cannot stop the batch."""
    path, out_dir, steps_per_beat, sustain = job
    try:
        return path, convert_file(path, out_dir, steps_per_beat, sustain), ""
    except Exception as error:  # any parse error is reported as one line and the batch goes on
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return path, None, reason


def convert_files(jobs: list[tuple[Path, Path]], workers: int, steps_per_beat: int = STEPS_PER_BEAT,
                  sustain: bool = True) -> ConvertSummary:
    """Convert (midi path, output folder) pairs on `workers` processes with a progress bar and a summary line."""
    began = time.perf_counter()
    summary = ConvertSummary()
    for folder in {out for _, out in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    tasks = [(path, out, steps_per_beat, sustain) for path, out in jobs]
    chunksize = max(1, min(8, len(tasks) // (4 * workers)))
    with (multiprocessing.Pool(workers) if workers > 1 and len(tasks) > 1 else _InlinePool()) as pool:
        results = pool.imap_unordered(_convert_job, tasks, chunksize=chunksize)
        for path, counts, reason in tqdm(results, total=len(tasks), desc="midi2img", unit="file",
                                         file=sys.stderr, disable=None):
            summary.files += 1
            if counts is None:
                summary.failures += 1
                tqdm.write(f"midi2img: {path}: {reason}", file=sys.stderr)
                continue
            summary.images += counts[0]
            summary.notes += counts[1]
            summary.dropped_notes += counts[2]
    summary.seconds = time.perf_counter() - began
    print(summary.line(), flush=True)
    return summary


class _InlinePool:
    """Stand-in for a Pool when one process is asked for: easier to debug and profile, no fork cost."""

    def __enter__(self) -> _InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap_unordered(self, func, iterable, chunksize: int = 1):  # mirrors Pool.imap_unordered
        return map(func, iterable)


def convert_folder(midi_dir: Path, out_dir: Path, workers: int, steps_per_beat: int = STEPS_PER_BEAT,
                   sustain: bool = True) -> ConvertSummary:
    """Convert every MIDI file below midi_dir; with a MAESTRO CSV, images go to out_dir/<split>/."""
    midi_dir, out_dir = Path(midi_dir), Path(out_dir)
    if not midi_dir.is_dir():
        print(f"midi2img: {midi_dir}: no such folder; {MAESTRO_HELP}", file=sys.stderr)
        return ConvertSummary(failures=1)
    splits = read_splits(midi_dir)
    jobs = []
    for path in find_midi_files(midi_dir):
        split = splits.get(path.relative_to(midi_dir).as_posix())
        jobs.append((path, out_dir / split if split else out_dir))
    if not jobs:
        print(f"midi2img: {midi_dir}: no .mid/.midi files found; {MAESTRO_HELP}", file=sys.stderr)
        return ConvertSummary(failures=1)
    return convert_files(jobs, workers, steps_per_beat, sustain)
