"""Thin I/O around the img2midi core: read PNG rolls, write MIDI files atomically."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pretty_midi
from PIL import Image

from img2midi.core import notes_to_midi, roll_to_notes
from midi2img.atomic import atomic_path
from midi2img.spec import IMAGE_SHAPE, STEPS_PER_BEAT


def write_midi_atomic(pm: pretty_midi.PrettyMIDI, path: Path) -> None:
    """Write a MIDI file so that a kill never leaves a truncated .mid behind."""
    with atomic_path(Path(path)) as tmp:
        pm.write(str(tmp))


def read_roll_png(path: Path) -> np.ndarray:
    """A (106, 300) uint8 roll from an 8-bit grayscale PNG.

    Other modes (RGB, palette, 16-bit) are refused, not converted: a colour-to-gray
    conversion would silently change pixel levels and so move or invent onsets.
    """
    with Image.open(path) as image:
        if image.mode != "L":
            raise ValueError(f"mode {image.mode}, expected 8-bit grayscale (L)")
        roll = np.asarray(image, dtype=np.uint8)
    if roll.shape != IMAGE_SHAPE:
        raise ValueError(f"size {roll.shape[1]}x{roll.shape[0]}, expected {IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]}")
    return roll


def convert_images(images: list[Path], out_dir: Path, bpm: float = 120.0, steps_per_beat: int = STEPS_PER_BEAT,
                   threshold: int | None = None) -> int:
    """Decode each PNG to <out_dir>/<stem>.mid; a bad image is one line on stderr and the rest go on.

    Returns the number of failures.
    """
    began = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = n_notes = 0
    for path in images:
        path = Path(path)
        try:
            notes = roll_to_notes(read_roll_png(path), threshold)
            write_midi_atomic(notes_to_midi(notes, bpm, steps_per_beat), out_dir / f"{path.stem}.mid")
        except Exception as error:  # one line per bad image, the batch goes on
            failures += 1
            print(f"img2midi: {path}: {str(error).strip() or type(error).__name__}", file=sys.stderr)
            continue
        n_notes += len(notes)
    print(f"img2midi: {len(images)} images, {len(images) - failures} MIDI files, {n_notes} notes, "
          f"{failures} failures, {time.perf_counter() - began:.1f} s", flush=True)
    return failures
