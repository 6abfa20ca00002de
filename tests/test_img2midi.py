"""img2midi: decoding hand-made rolls with known answers, MIDI output, and the PNG batch's error handling."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from PIL import Image

from img2midi import (
    DEFAULT_THRESHOLD,
    ONSET_THRESHOLD,
    convert_images,
    notes_to_midi,
    roll_to_notes,
    write_midi_atomic,
)
from midi2img import notes_to_roll
from midi2img.core import quantize_notes
from midi2img.rollpng import read_roll_png
from midi2img.spec import (
    DEFAULT_VELOCITY,
    ONSET_MIN_LEVEL,
    SUSTAIN_LEVEL,
    level_to_velocity,
    pitch_to_row,
    velocity_to_level,
)


def roll_with(rows: dict[int, list[int]], width: int | None = None) -> np.ndarray:
    """A (106, T) roll with the given pixel rows, keyed by MIDI pitch."""
    width = width or max(len(v) for v in rows.values())
    roll = np.zeros((106, width), dtype=np.uint8)
    for pitch, values in rows.items():
        roll[pitch_to_row(pitch), : len(values)] = values
    return roll


def decode(roll: np.ndarray, threshold: int | None = None) -> list[tuple[int, int, int]]:
    """(pitch, start, end) of the decoded notes: the timing, for tests about timing."""
    return [tuple(int(v) for v in row[:3]) for row in roll_to_notes(roll, threshold)]


def test_levels_are_documented_values():
    assert DEFAULT_THRESHOLD == 64
    assert ONSET_THRESHOLD == ONSET_MIN_LEVEL == 192  # one definition: the bottom of the onset band
    assert ONSET_THRESHOLD == (SUSTAIN_LEVEL + 255 + 1) // 2  # midway between sustain and the loudest onset


def test_onset_pixels_give_their_velocity_other_notes_the_default():
    # a carried-in note at column 0 and a sustain-level pixel after silence have no attack in the image
    roll = roll_with({60: [128, 128, 0, 128, 128, 255], 62: [0, 192, 128, 224], 64: [150, 0, 200, 191]})
    assert roll_to_notes(roll).tolist() == [
        [60, 0, 2, DEFAULT_VELOCITY], [64, 0, 1, DEFAULT_VELOCITY], [62, 1, 3, 1],
        [64, 2, 4, int(level_to_velocity(200))], [60, 3, 5, DEFAULT_VELOCITY], [62, 3, 4, 65], [60, 5, 6, 127]]


def test_onset_pixel_splits_repeated_notes():
    roll = roll_with({60: [255, 128, 128, 255, 128, 0, 0, 255, 255, 255]})
    assert decode(roll) == [(60, 0, 3), (60, 3, 5), (60, 7, 8), (60, 8, 9), (60, 9, 10)]


def test_sustain_at_column_zero_starts_a_note():
    assert decode(roll_with({60: [128, 128, 0, 128]})) == [(60, 0, 2), (60, 3, 4)]


def test_no_invented_or_shifted_notes():
    # the original decoder read column 0 as pitches and moved every note one step early
    roll = roll_with({21: [0, 0, 0, 0, 0, 255, 128], 126: [0, 255]}, width=8)
    assert decode(roll) == [(126, 1, 2), (21, 5, 7)]
    assert decode(np.zeros((106, 300), dtype=np.uint8)) == []


def test_threshold():
    roll = roll_with({60: [100, 100, 0, 40, 30]})
    assert decode(roll) == [(60, 0, 2)]
    assert decode(roll, threshold=128) == []
    assert decode(roll, threshold=30) == [(60, 0, 2), (60, 3, 5)]


def test_soft_levels_of_a_generator():
    # 200 and 192 are onsets, 150 and 191 sustain, 63 is silence at the default threshold
    roll = roll_with({60: [200, 150, 191, 192, 63, 70]})
    assert decode(roll) == [(60, 0, 3), (60, 3, 4), (60, 5, 6)]
    # an onset-level pixel below a high threshold does not sound, so it starts nothing
    assert decode(roll_with({60: [255, 200, 128]}), threshold=210) == [(60, 0, 1)]


def test_notes_run_to_the_right_edge_and_come_sorted_by_start_then_pitch():
    roll = roll_with({72: [0, 255, 128], 48: [0, 255, 128], 60: [255]})
    assert decode(roll) == [(60, 0, 1), (48, 1, 3), (72, 1, 3)]


def test_decode_inverts_the_encoder_exactly():
    rng = np.random.default_rng(7)
    n = 3000
    starts = rng.integers(0, 4000, n) * 37
    ends = starts + rng.integers(1, 3000, n)
    velocities = rng.integers(1, 128, n)
    notes, _ = quantize_notes(rng.integers(21, 127, n), starts, ends, velocities, 480, 4)
    decoded = roll_to_notes(notes_to_roll(notes, int(notes[:, 2].max())))
    assert decoded.dtype == np.int64 and decoded.shape[1] == 4
    np.testing.assert_array_equal(decoded[:, :3], notes[:, :3])
    np.testing.assert_array_equal(decoded[:, 3], level_to_velocity(velocity_to_level(notes[:, 3])))


def test_rejects_wrong_roll_shape():
    with pytest.raises(ValueError):
        roll_to_notes(np.zeros((88, 300), dtype=np.uint8))
    with pytest.raises(ValueError):
        roll_to_notes(np.zeros(106, dtype=np.uint8))
    assert roll_to_notes(np.zeros((106, 0), dtype=np.uint8)).shape == (0, 4)


def test_notes_to_midi_timing_program_tempo_and_each_notes_velocity():
    pm = notes_to_midi(np.array([[60, 0, 4, 70], [64, 3, 5, 21]]), bpm=90.0, steps_per_beat=4)
    assert len(pm.instruments) == 1
    piano = pm.instruments[0]
    assert piano.program == 0 and piano.name == "Piano" and not piano.is_drum
    step = 60.0 / (90.0 * 4)
    assert [(n.pitch, n.start, n.end, n.velocity) for n in piano.notes] == [
        (60, 0.0, pytest.approx(4 * step), 70), (64, pytest.approx(3 * step), pytest.approx(5 * step), 21)]
    assert pm.get_tempo_changes()[1].tolist() == pytest.approx([90.0])
    assert notes_to_midi(np.zeros((0, 4), dtype=np.int64)).instruments[0].notes == []


def test_write_midi_atomic_reads_back(tmp_path):
    path = tmp_path / "out.mid"
    write_midi_atomic(notes_to_midi(np.array([[60, 8, 12, 99]])), path)
    assert [p.name for p in tmp_path.iterdir()] == ["out.mid"]
    note = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes[0]
    assert (note.pitch, note.start, note.end, note.velocity) == (60, pytest.approx(1.0), pytest.approx(1.5), 99)


def save_png(path: Path, array: np.ndarray, mode: str = "L") -> Path:
    Image.fromarray(array, mode=mode).save(path)
    return path


def test_convert_images_refuses_bad_pngs_one_line_each(tmp_path, capsys):
    good = save_png(tmp_path / "good.png", roll_with({60: [0, 230, 128, 128]}, width=300))
    small = save_png(tmp_path / "small.png", np.zeros((106, 299), dtype=np.uint8))
    rgb = save_png(tmp_path / "rgb.png", np.zeros((106, 300, 3), dtype=np.uint8), mode="RGB")
    text = tmp_path / "text.png"
    text.write_text("not a png")
    missing = tmp_path / "missing.png"
    out = tmp_path / "midi"
    failures = convert_images([small, good, rgb, text, missing], out, bpm=120.0, steps_per_beat=4, threshold=None)
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert failures == 4 and len(err) == 4
    assert err[0] == f"img2midi: {small}: size 299x106, expected 300x106"
    assert err[1] == f"img2midi: {rgb}: mode RGB, expected 8-bit grayscale (L)"
    assert err[2].startswith(f"img2midi: {text}: ") and err[3].startswith(f"img2midi: {missing}: ")
    assert captured.out.startswith("img2midi: 5 images, 1 MIDI files, 1 notes, 4 failures")
    assert sorted(p.name for p in out.iterdir()) == ["good.mid"]
    note = pretty_midi.PrettyMIDI(str(out / "good.mid")).instruments[0].notes
    assert [(n.pitch, n.start, n.end, n.velocity) for n in note] == [
        (60, pytest.approx(0.125), pytest.approx(0.5), int(level_to_velocity(230)))]


def test_read_roll_png_round_trips_pixels(tmp_path):
    roll = np.random.default_rng(0).integers(0, 256, (106, 300), dtype=np.uint8)
    np.testing.assert_array_equal(read_roll_png(save_png(tmp_path / "r.png", roll)), roll)
