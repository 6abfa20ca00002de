"""A roll on disk: the format of midi2img.spec as an 8-bit grayscale PNG, read, checked and written in one place.

Every stage uses these: midi2img writes rolls, train and evaluate read and check them, img2midi
decodes them. A file that is not a usable roll raises ImageError with the one-line reason a user reads.
"""

from __future__ import annotations

import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from midi2img.atomic import atomic_path, first_line
from midi2img.spec import IMAGE_SHAPE

# zlib level 1: measured on MAESTRO, levels 1..9 differ little in size for these sparse rolls
# but higher levels cost several times the CPU (see bench/results.md).
PNG_COMPRESS_LEVEL = 1


def write_png_atomic(image: np.ndarray, path: Path) -> None:
    """Save a uint8 2-D array as an 8-bit grayscale PNG without ever exposing a partial file."""
    with atomic_path(path) as tmp:
        Image.fromarray(image, mode="L").save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


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
