"""Fuzz the two readers of outside data: midi2img's MIDI reader and img2midi's PNG reader.

Each must either return well-formed data or raise its own one-line error type (MidiError,
ImageError), never anything else. The number of examples per test is bounded for CI;
PIANOLA_FUZZ_EXAMPLES=100000 python -m pytest tests/test_fuzz.py runs longer.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from img2midi.core import roll_to_notes
from midi2img.core import iter_windows, notes_to_roll, quantize_notes
from midi2img.io import MidiError, convert_file, read_midi_notes
from midi2img.rollpng import ImageError, read_roll_png
from midi2img.spec import (
    HIGHEST_PITCH,
    IMAGE_SHAPE,
    LOWEST_PITCH,
    N_PITCHES,
    VELOCITY_TOLERANCE,
    WINDOW_STEPS,
)
from tests.conftest import STEP, write_midi

EXAMPLES = int(os.environ.get("PIANOLA_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="PIANOLA_FUZZ_EXAMPLES" not in os.environ,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

WORK = Path(tempfile.mkdtemp(prefix="pianola-fuzz-"))


def _seed_midi() -> bytes:
    path = write_midi(WORK / "seed.mid", [(60, 0, STEP), (64, STEP, 3 * STEP), (60, STEP, 2 * STEP), (20, 0, STEP)],
                      pedal=[(0, 127), (4 * STEP, 0)], tempos=[(0, 120.0), (STEP, 90.0), (2 * STEP, 200.0)],
                      drum_notes=[(36, 0, STEP)])
    return path.read_bytes()


def _seed_png() -> bytes:
    roll = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
    roll[66, 3:9] = [255, 128, 128, 0, 255, 128]
    buffer = io.BytesIO()
    Image.fromarray(roll, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


SEED_MIDI = _seed_midi()
SEED_PNG = _seed_png()


def mutated(seed: bytes) -> st.SearchStrategy[bytes]:
    """The seed file with bytes overwritten, inserted or cut off: mostly-valid input reaches deep code."""
    edits = st.lists(st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255), st.sampled_from("sit")),
                     min_size=1, max_size=8)

    def apply(changes: list[tuple[int, int, str]]) -> bytes:
        data = bytearray(seed)
        for position, value, kind in changes:
            position = min(position, len(data))
            if kind == "s" and position < len(data):
                data[position] = value
            elif kind == "i":
                data[position:position] = bytes([value]) * (1 + value % 5)
            else:
                del data[position:]
        return bytes(data)

    return edits.map(apply)


def check_midi(data: bytes) -> None:
    path = WORK / "case.mid"
    path.write_bytes(data)
    try:
        notes, dropped = read_midi_notes(path)
    except MidiError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert notes.ndim == 2 and notes.shape[1] == 4 and dropped >= 0
    if len(notes):
        assert notes[:, 0].min() >= LOWEST_PITCH and notes[:, 0].max() <= HIGHEST_PITCH
        assert (notes[:, 1] >= 0).all() and (notes[:, 2] > notes[:, 1]).all()
        assert notes[:, 3].min() >= 1 and notes[:, 3].max() <= 127


@FUZZ
@given(st.binary(max_size=2000))
def test_midi_reader_on_random_bytes(data):
    check_midi(data)


@FUZZ
@given(st.binary(max_size=2000))
def test_midi_reader_on_random_bytes_after_a_valid_header(data):
    check_midi(SEED_MIDI[:14] + data)


@FUZZ
@given(mutated(SEED_MIDI))
def test_midi_reader_on_mutated_files(data):
    check_midi(data)


@settings(FUZZ, max_examples=max(10, EXAMPLES // 10))
@given(mutated(SEED_MIDI))
def test_convert_file_on_mutated_files(data):
    path = WORK / "convert.mid"
    path.write_bytes(data)
    out = WORK / "png"
    out.mkdir(exist_ok=True)
    try:
        images, notes, _ = convert_file(path, out)
    except MidiError:
        return
    assert images >= 1 and notes >= 1


# Random notes: (pitch, start step, length in steps, velocity); velocity 0 and above 127 test the clipping.
NOTES = st.lists(st.tuples(st.integers(LOWEST_PITCH, HIGHEST_PITCH), st.integers(0, 700), st.integers(1, 80),
                           st.integers(0, 140)), max_size=60)


def on_the_grid(raw: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The (n, 4) notes midi2img makes of them: one tick per step, so quantize_notes only merges and cuts."""
    raw_array = np.array(raw, dtype=np.int64).reshape(-1, 4)
    pitches, starts, lengths, velocities = raw_array.T
    notes, dropped = quantize_notes(pitches, starts, starts + lengths, velocities, 1, 1)
    assert dropped == 0
    return notes


@FUZZ
@given(NOTES)
def test_notes_and_velocities_survive_the_image(raw):
    notes = on_the_grid(raw)
    if len(notes):
        assert notes[:, 3].min() >= 1 and notes[:, 3].max() <= 127
    n_steps = int(notes[:, 2].max()) if len(notes) else 1
    decoded = roll_to_notes(notes_to_roll(notes, n_steps))
    np.testing.assert_array_equal(decoded[:, :3], notes[:, :3])
    assert np.abs(decoded[:, 3] - notes[:, 3]).max(initial=0) <= VELOCITY_TOLERANCE


@FUZZ
@given(NOTES)
def test_notes_and_velocities_survive_the_windows_stitched_back(raw):
    notes = on_the_grid(raw)
    n_windows = -(-int(notes[:, 2].max()) // WINDOW_STEPS) if len(notes) else 1
    roll = np.zeros((N_PITCHES, n_windows * WINDOW_STEPS), np.uint8)
    for index, image in iter_windows(notes, chunk_windows=1):
        roll[:, index * WINDOW_STEPS:(index + 1) * WINDOW_STEPS] = image
    decoded = roll_to_notes(roll)
    np.testing.assert_array_equal(decoded[:, :3], notes[:, :3])
    assert np.abs(decoded[:, 3] - notes[:, 3]).max(initial=0) <= VELOCITY_TOLERANCE


def check_png(data: bytes) -> None:
    path = WORK / "case.png"
    path.write_bytes(data)
    try:
        roll = read_roll_png(path)
    except ImageError as error:
        assert str(error) and "\n" not in str(error)
        return
    assert roll.shape == IMAGE_SHAPE and roll.dtype == np.uint8


@FUZZ
@given(st.binary(max_size=2000))
def test_png_reader_on_random_bytes(data):
    check_png(data)


@FUZZ
@given(mutated(SEED_PNG))
def test_png_reader_on_mutated_files(data):
    check_png(data)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "P", "I;16", "1", "LA"])
def test_png_reader_refuses_every_other_mode(tmp_path, mode):
    path = tmp_path / f"{mode.replace(';', '')}.png"
    Image.new(mode, (IMAGE_SHAPE[1], IMAGE_SHAPE[0])).save(path)
    with pytest.raises(ImageError, match=f"mode {mode},"):
        read_roll_png(path)
