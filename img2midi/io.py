"""Thin I/O around the img2midi core: read PNG rolls, write MIDI files atomically."""

from __future__ import annotations

import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import pretty_midi
from PIL import Image, UnidentifiedImageError

from img2midi.core import notes_to_midi, roll_to_notes
from midi2img.atomic import atomic_path, first_line
from midi2img.spec import IMAGE_SHAPE, STEPS_PER_BEAT


def write_midi_atomic(pm: pretty_midi.PrettyMIDI, path: Path) -> None:
    """Write a MIDI file so that a kill never leaves a truncated .mid behind."""
    with atomic_path(Path(path)) as tmp:
        pm.write(str(tmp))


class ImageError(ValueError):
    """A PNG that is not a usable roll; str(error) is the one-line reason a user reads."""


def _open_roll_png(path: Path) -> Image.Image:
    """The opened image after header checks (format, mode, size); nothing is decoded yet."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ImageError("is a folder, not a file")
        if path.stat().st_size == 0:
            raise ImageError("empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
    except FileNotFoundError:
        raise ImageError("no such file") from None
    except UnidentifiedImageError:
        raise ImageError("not a PNG image (unrecognised or corrupt data)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError("not a roll: image dimensions are far too large") from None
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError) as error:  # PIL reports broken headers with these
        raise ImageError(f"corrupt PNG ({first_line(error)})") from None
    try:
        if image.format != "PNG":
            raise ImageError(f"not a PNG file ({image.format} image)")
        if image.mode != "L":
            raise ImageError(f"mode {image.mode}, expected 8-bit grayscale (L)")
        if (image.height, image.width) != IMAGE_SHAPE:
            raise ImageError(f"size {image.width}x{image.height}, expected {IMAGE_SHAPE[1]}x{IMAGE_SHAPE[0]}")
    except BaseException:
        image.close()
        raise
    return image


def check_roll_png(path: Path) -> None:
    """ImageError unless path's header says a 106x300 8-bit grayscale PNG; cheap, decodes no pixels."""
    _open_roll_png(path).close()


def read_roll_png(path: Path) -> np.ndarray:
    """A (106, 300) uint8 roll from an 8-bit grayscale PNG, or ImageError (a ValueError) saying why not.

    Other modes (RGB, palette, 16-bit) are refused, not converted: a colour-to-gray
    conversion would silently change pixel levels and so move or invent onsets.
    """
    with _open_roll_png(path) as image:
        try:
            roll = np.asarray(image, dtype=np.uint8)
        except (OSError, SyntaxError, ValueError, EOFError, zlib.error) as error:
            raise ImageError(f"corrupt PNG ({first_line(error)})") from None
    if roll.shape != IMAGE_SHAPE:  # the header said otherwise; only a broken file gets here
        raise ImageError(f"corrupt PNG (decoded shape {roll.shape}, expected {IMAGE_SHAPE})")
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
