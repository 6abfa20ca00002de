"""Thin I/O around the img2midi core: PNG rolls (midi2img.rollpng) in, MIDI files written atomically out."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pretty_midi

from img2midi.core import notes_to_midi, roll_to_notes
from midi2img.atomic import atomic_path, first_line
from midi2img.rollpng import ImageError, read_roll_png
from midi2img.spec import STEPS_PER_BEAT


def write_midi_atomic(pm: pretty_midi.PrettyMIDI, path: Path) -> None:
    """Write a MIDI file so that a kill never leaves a truncated .mid behind."""
    with atomic_path(Path(path)) as tmp:
        pm.write(str(tmp))


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
        except ImageError as error:
            failures += 1
            print(f"img2midi: {path}: {error}", file=sys.stderr)
            continue
        except Exception as error:  # anything unforeseen is still one line, and the batch goes on
            failures += 1
            print(f"img2midi: {path}: {type(error).__name__}: {first_line(error)}", file=sys.stderr)
            continue
        n_notes += len(notes)
    print(f"img2midi: {len(images)} images, {len(images) - failures} MIDI files, {n_notes} notes, "
          f"{failures} failures, {time.perf_counter() - began:.1f} s", flush=True)
    return failures
