"""midi2img: exact notes and pixels from MIDI files built in code, batch behaviour, and real MAESTRO files."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import DEFAULT_NOTE_VELOCITY, STEP
from PIL import Image

from midi2img import convert_file, convert_folder, notes_to_roll, read_midi_notes, roll_windows
from midi2img.atomic import atomic_path
from midi2img.core import quantize_notes, ticks_to_steps
from midi2img.io import read_maestro_rows
from midi2img.spec import (
    DEFAULT_VELOCITY,
    ONSET_LEVEL,
    ONSET_MIN_LEVEL,
    SUSTAIN_LEVEL,
    VELOCITY_TOLERANCE,
    WINDOW_STEPS,
    level_to_velocity,
    pitch_to_row,
    velocity_to_level,
)
from midi2img.styles import COMPOSERS, INDEX_NAME, era_of, first_composer, piece_of, read_style_index

# write_midi's notes have velocity 80 unless given one: their onset pixels are this level.
ON = int(velocity_to_level(DEFAULT_NOTE_VELOCITY))


def notes_of(path: Path, **kwargs) -> list[tuple[int, int, int]]:
    """(pitch, start, end) of the file's notes: the timing, for tests about timing."""
    notes, _ = read_midi_notes(path, **kwargs)
    return [tuple(int(v) for v in row[:3]) for row in notes]


def with_velocity(notes: list[tuple[int, int, int]], velocity: int = DEFAULT_NOTE_VELOCITY) -> np.ndarray:
    """(pitch, start, end) rows -> an (n, 4) notes array, all at one velocity."""
    return np.array([(*note, velocity) for note in notes], dtype=np.int64).reshape(-1, 4)


def row_of(roll: np.ndarray, pitch: int, width: int) -> list[int]:
    return roll[pitch_to_row(pitch), :width].tolist()


def test_chord_notes_and_pixels(make_midi):
    path = make_midi("chord.mid", [(60, 0, 4 * STEP), (64, 0, 4 * STEP), (67, 0, 4 * STEP)])
    notes, dropped = read_midi_notes(path)
    assert dropped == 0
    assert notes.dtype == np.int64 and notes.shape == (3, 4)
    assert notes.tolist() == [[60, 0, 4, 80], [64, 0, 4, 80], [67, 0, 4, 80]]
    roll = notes_to_roll(notes, 6)
    assert roll.dtype == np.uint8 and roll.shape == (106, 6)
    for pitch in (60, 64, 67):
        assert row_of(roll, pitch, 6) == [ON, 128, 128, 128, 0, 0]
    assert np.count_nonzero(roll) == 12


def test_repeated_notes_stay_separate(make_midi):
    # back to back, and an overlapping repeat: the first note is cut at the second onset. (MIDI pairs the
    # note-offs of one pitch first in, first out, so the file's offs at 3 and 5 go to the notes in order.)
    notes = [(60, 0, 2 * STEP), (60, 2 * STEP, 4 * STEP), (62, 0, 5 * STEP), (62, STEP, 3 * STEP)]
    path = make_midi("repeat.mid", notes)
    assert notes_of(path) == [(60, 0, 2), (62, 0, 1), (62, 1, 5), (60, 2, 4)]
    roll = notes_to_roll(with_velocity(notes_of(path)), 5)
    assert row_of(roll, 60, 5) == [ON, 128, ON, 128, 0]
    assert row_of(roll, 62, 5) == [ON, ON, 128, 128, 128]


def test_note_shorter_than_a_step_sounds_one_step(make_midi):
    # ticks 10..30 round to step 0..0 -> one step; 100..130 round to 1..1 -> one step at 1
    path = make_midi("short.mid", [(60, 10, 30), (62, 100, 130)])
    assert notes_of(path) == [(60, 0, 1), (62, 1, 2)]
    roll = notes_to_roll(with_velocity(notes_of(path)), 3)
    assert row_of(roll, 60, 3) == [ON, 0, 0]
    assert row_of(roll, 62, 3) == [0, ON, 0]


def test_rounding_is_half_up_in_exact_integers():
    assert ticks_to_steps(np.array([0, 59, 60, 61, 179, 180, 10**9]), 480, 4).tolist() == [
        0, 0, 1, 1, 1, 2, 10**9 // 120]


def test_sustain_pedal_extends_but_never_past_next_onset(make_midi):
    pedal = [(STEP, 100), (2 * STEP, 127), (8 * STEP, 0)]  # a repeated "down" value does not start a new press
    notes = [
        (60, 0, 2 * STEP),            # released while down -> lasts to the pedal release at step 8
        (64, 0, STEP // 2),           # released before the pedal goes down -> unchanged (ends at step 1)
        (67, 0, 2 * STEP),            # extended, but cut at its next onset (step 4)
        (67, 4 * STEP, 5 * STEP),     # extended to step 8
        (72, 9 * STEP, 10 * STEP),    # after the release -> unchanged
    ]
    path = make_midi("pedal.mid", notes, pedal=pedal)
    assert notes_of(path) == [(60, 0, 8), (64, 0, 1), (67, 0, 4), (67, 4, 8), (72, 9, 10)]
    assert notes_of(path, sustain=False) == [(60, 0, 2), (64, 0, 1), (67, 0, 2), (67, 4, 5), (72, 9, 10)]
    roll = notes_to_roll(with_velocity(notes_of(path)), 10)
    assert row_of(roll, 67, 10) == [ON, 128, 128, 128, ON, 128, 128, 128, 0, 0]


def test_pedal_held_to_the_end_holds_notes_to_their_quantized_release(make_midi):
    path = make_midi("held.mid", [(60, 0, STEP), (60, 6 * STEP, 7 * STEP)], pedal=[(0, 127)])
    # pedal never goes up: the first note runs to the next onset, the last one keeps its own end
    assert notes_of(path) == [(60, 0, 6), (60, 6, 7)]


def test_tempo_change_bends_time_not_the_grid(make_midi):
    tempos = [(0, 120.0), (4 * STEP, 45.0), (12 * STEP, 200.0)]
    notes = [(60, 0, STEP), (62, 4 * STEP, 5 * STEP), (64, 8 * STEP, 9 * STEP), (65, 12 * STEP, 14 * STEP)]
    path = make_midi("tempo.mid", notes, tempos=tempos)
    assert notes_of(path) == [(60, 0, 1), (62, 4, 5), (64, 8, 9), (65, 12, 14)]
    assert notes_of(path, steps_per_beat=2) == [(60, 0, 1), (62, 2, 3), (64, 4, 5), (65, 6, 7)]


def test_pitches_outside_range_are_dropped_and_counted(make_midi):
    path = make_midi("range.mid", [(20, 0, STEP), (21, 0, STEP), (126, 0, STEP), (127, 0, STEP), (0, 0, STEP)])
    notes, dropped = read_midi_notes(path)
    assert dropped == 3
    assert notes.tolist() == [[21, 0, 1, 80], [126, 0, 1, 80]]
    roll = notes_to_roll(notes, 1)
    assert roll[0, 0] == ON and roll[105, 0] == ON and np.count_nonzero(roll) == 2


def test_drum_tracks_are_skipped(make_midi):
    path = make_midi("drums.mid", [(60, 0, STEP)], drum_notes=[(36, 0, STEP), (38, STEP, 2 * STEP)])
    assert notes_of(path) == [(60, 0, 1)]


def test_same_pitch_same_step_collapses_to_the_longer_note_with_its_velocity():
    notes, dropped = quantize_notes(np.array([60, 60, 60]), np.array([0, 10, 600]), np.array([240, 480, 720]),
                                    np.array([30, 90, 50]), 480, 4)
    assert dropped == 0
    assert notes.tolist() == [[60, 0, 4, 90], [60, 5, 6, 50]]
    # equal lengths: the first in the input is kept, whatever its velocity
    notes, _ = quantize_notes(np.array([60, 60]), np.array([0, 10]), np.array([480, 480]), np.array([20, 110]), 480, 4)
    assert notes.tolist() == [[60, 0, 4, 20]]


def test_velocities_are_read_from_the_file_and_drawn_at_the_onsets(make_midi):
    path = make_midi("dynamics.mid", [(60, 0, 2 * STEP, 1), (62, 0, STEP, 127), (60, 2 * STEP, 3 * STEP, 64),
                                      (64, STEP, 3 * STEP, 33)])
    notes, _ = read_midi_notes(path)
    assert notes.tolist() == [[60, 0, 2, 1], [62, 0, 1, 127], [64, 1, 3, 33], [60, 2, 3, 64]]
    roll = notes_to_roll(notes, 4)
    assert row_of(roll, 60, 4) == [ONSET_MIN_LEVEL, 128, 192 + 32, 0]
    assert row_of(roll, 62, 4) == [ONSET_LEVEL, 0, 0, 0]
    assert row_of(roll, 64, 4) == [0, 192 + 16, 128, 0]


def test_every_velocity_comes_back_within_the_tolerance():
    velocities = np.arange(1, 128)
    levels = velocity_to_level(velocities)
    assert levels.min() == ONSET_MIN_LEVEL and levels.max() == ONSET_LEVEL and len(np.unique(levels)) == 64
    assert np.abs(level_to_velocity(levels) - velocities).max() == VELOCITY_TOLERANCE == 1
    assert level_to_velocity(ONSET_LEVEL) == 127  # images from before velocities decode as the loudest
    assert velocity_to_level(0) == velocity_to_level(1) and velocity_to_level(200) == ONSET_LEVEL  # clipped
    assert 1 <= DEFAULT_VELOCITY <= 127


def test_notes_to_roll_cuts_at_n_steps_and_onsets_win():
    roll = notes_to_roll(np.array([[60, 2, 10, 127], [60, 0, 4, 127], [61, 7, 9, 127]]), 5)
    assert row_of(roll, 60, 5) == [255, 128, 255, 128, 128]
    assert not roll[pitch_to_row(61)].any()
    with pytest.raises(ValueError):
        notes_to_roll(np.array([[127, 0, 1, 80]]), 4)


def test_two_onsets_on_one_pixel_draw_the_louder_in_any_order():
    notes = np.array([[60, 0, 2, 20], [60, 0, 3, 100]])
    assert row_of(notes_to_roll(notes, 4), 60, 4) == row_of(notes_to_roll(notes[::-1], 4), 60, 4) == [
        int(velocity_to_level(100)), 128, 128, 0]


def test_windows_are_indexed_by_position_and_silent_ones_skipped():
    windows = roll_windows(notes_to_roll(np.array([[60, 0, 4, 127], [62, 700, 701, 127]]), 701))
    assert [i for i, _ in windows] == [0, 2]  # window 1 (steps 300..599) is silent
    assert all(w.shape == (106, WINDOW_STEPS) and w.dtype == np.uint8 for _, w in windows)
    assert windows[1][1][pitch_to_row(62), 100] == ONSET_LEVEL
    assert np.count_nonzero(windows[1][1]) == 1  # the tail of the last window is padded with silence


def test_note_across_a_window_edge_continues_as_sustain():
    windows = roll_windows(notes_to_roll(np.array([[60, 298, 302, 127]]), 302))
    assert [i for i, _ in windows] == [0, 1]
    assert windows[0][1][pitch_to_row(60), 297:].tolist() == [0, 255, 128]
    assert windows[1][1][pitch_to_row(60), :3].tolist() == [128, 128, 0]


def test_silence_longer_than_an_image_does_not_end_the_file(make_midi, tmp_path):
    gap_start = 700 * STEP  # step 700: window 2; window 1 is silent
    path = make_midi("gap.mid", [(60, 0, 2 * STEP), (62, gap_start, gap_start + 3 * STEP)])
    out = tmp_path / "png"
    out.mkdir()
    assert convert_file(path, out) == (2, 2, 0)
    assert sorted(p.name for p in out.iterdir()) == ["gap_0000.png", "gap_0002.png"]
    late = np.asarray(Image.open(out / "gap_0002.png"))
    assert late[pitch_to_row(62), 100:104].tolist() == [ON, SUSTAIN_LEVEL, SUSTAIN_LEVEL, 0]
    assert np.count_nonzero(late) == 3


def test_pngs_are_grayscale_106x300_and_reruns_are_byte_identical(make_midi, tmp_path):
    path = make_midi("song.mid", [(40 + i % 50, i * 90, i * 90 + 400, 1 + i % 127) for i in range(600)],
                     pedal=[(0, 127), (9000, 0)])
    out = tmp_path / "png"
    out.mkdir()
    first = convert_file(path, out)
    blobs = {p.name: p.read_bytes() for p in out.iterdir()}
    assert first[0] == len(blobs) >= 2
    for name in blobs:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.mode == "L" and image.size == (300, 106)
    assert convert_file(path, out) == first
    assert {p.name: p.read_bytes() for p in out.iterdir()} == blobs  # also: no temp files left behind


def test_atomic_path_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "x.png"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"whole")
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"] and target.read_bytes() == b"whole"


def test_bad_files_fail_one_line_each_and_the_batch_goes_on(make_midi, tmp_path, capsys):
    good = make_midi("good.mid", [(60, 0, STEP), (64, 0, STEP)])
    make_midi("NoNotes.MID", [])
    make_midi("only_out_of_range.midi", [(10, 0, STEP)])
    folder = good.parent
    (folder / "text.mid").write_text("this is not a MIDI file\n")
    (folder / "empty.mid").write_bytes(b"")
    (folder / "truncated.mid").write_bytes(good.read_bytes()[:30])
    (folder / "notes.txt").write_text("ignored: not a MIDI suffix")
    make_midi("deeper/also_good.midi", [(70, 0, STEP)])

    summary = convert_folder(folder, tmp_path / "png", workers=2, steps_per_beat=4, sustain=True)
    err = capsys.readouterr().err.splitlines()
    failed = sorted(line for line in err if line.startswith("midi2img: "))
    assert summary.files == 7 and summary.failures == 5 and summary.images == 2 and summary.notes == 3
    assert summary.dropped_notes == 0  # counted only for converted files
    assert len(failed) == 5
    for name in ("NoNotes.MID", "empty.mid", "only_out_of_range.midi", "text.mid", "truncated.mid"):
        assert sum(f"{folder / name}: " in line for line in failed) == 1, name
    assert any(line.endswith("NoNotes.MID: no notes") for line in failed)
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == ["also_good_0000.png", "good_0000.png"]


def test_summary_line_is_printed_once(make_midi, tmp_path, capsys):
    path = make_midi("a.mid", [(60, 0, STEP), (10, 0, STEP)])
    summary = convert_folder(path.parent, tmp_path / "png", workers=1, steps_per_beat=4, sustain=True)
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["midi2img: 1 files, 1 images, 1 notes, 1 dropped notes, 0 failures, "
                   f"{summary.seconds:.1f} s"]


def test_missing_midi_dir_says_how_to_get_maestro(tmp_path, capsys):
    summary = convert_folder(tmp_path / "nope", tmp_path / "png", workers=1, steps_per_beat=4, sustain=True)
    err = capsys.readouterr().err.strip().splitlines()
    assert summary.failures == 1 and len(err) == 1
    assert "python pipeline.py download" in err[0] and "--midi-dir" in err[0]
    assert not (tmp_path / "png").exists()


def test_csv_splits_route_images(make_midi, tmp_path):
    for name in ("2004/a.midi", "2004/b.midi", "2006/c.midi", "loose.mid"):
        make_midi(name, [(60, 0, STEP)])
    with (tmp_path / "midi" / "maestro-v2.0.0.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["canonical_composer", "split", "year", "midi_filename"])
        writer.writerows([["Johann Sebastian Bach / Ferruccio Busoni", "train", 2004, "2004/a.midi"],
                          ["Frédéric Chopin", "validation", 2004, "2004/b.midi"], ["X", "test", 2006, "2006/c.midi"]])
    out = tmp_path / "png"
    summary = convert_folder(tmp_path / "midi", out, workers=1, steps_per_beat=4, sustain=True)
    assert summary.failures == 0
    found = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert found == ["loose_0000.png", "test/c_0000.png", "train/a_0000.png", "validation/b_0000.png"]
    # each split's style labels beside its images: an arrangement takes its first composer's era
    assert read_style_index(out / "train") == {"a": ("Bach", "baroque")}
    assert read_style_index(out / "validation") == {"b": ("Chopin", "romantic")}
    assert read_style_index(out / "test") == {"c": ("X", "")} and piece_of("train/a_0000.png") == "a"
    assert not (out / INDEX_NAME).exists()


def test_every_maestro_composer_has_an_era(maestro):
    rows = read_maestro_rows(maestro)
    assert {first_composer(r["canonical_composer"]) for r in rows if era_of(r["canonical_composer"]) is None} == set()
    assert set(COMPOSERS) <= {first_composer(r["canonical_composer"]) for r in rows}


def _shortest_per_split(maestro: Path) -> dict[str, str]:
    with (maestro / "maestro-v2.0.0.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    return {split: min((r for r in rows if r["split"] == split), key=lambda r: float(r["duration"]))["midi_filename"]
            for split in ("train", "validation", "test")}


def test_real_maestro_files(maestro, tmp_path):
    """Three real files (the shortest of each split) through convert_folder, via symlinks and a trimmed CSV."""
    picked = _shortest_per_split(maestro)
    midi_dir = tmp_path / "maestro"
    for name in picked.values():
        (midi_dir / name).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(maestro / name, midi_dir / name)
    with (midi_dir / "maestro-v2.0.0.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["split", "midi_filename"])
        writer.writerows([split, name] for split, name in picked.items())
    out = tmp_path / "png"
    summary = convert_folder(midi_dir, out, workers=2, steps_per_beat=4, sustain=True)
    assert summary.files == 3 and summary.failures == 0 and summary.images > 3 and summary.notes > 100
    pngs = sorted(out.rglob("*.png"))
    assert len(pngs) == summary.images
    for split, name in picked.items():
        stem = Path(name).stem
        mine = sorted((out / split).glob(f"{stem}_*.png"))
        assert mine and all(p.parent.name == split for p in mine)
        assert [p for p in pngs if p.stem.startswith(stem)] == mine
    seen: set[int] = set()
    for png in pngs:
        with Image.open(png) as image:
            assert image.mode == "L" and image.size == (300, 106)
            levels = set(np.unique(np.asarray(image)).tolist())
        onsets = {level for level in levels if level >= ONSET_MIN_LEVEL}
        assert levels - onsets <= {0, SUSTAIN_LEVEL} and onsets and max(onsets) <= ONSET_LEVEL
        seen |= onsets
    assert len(seen) >= 20  # the performances' dynamics, not one onset level
    blobs = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}  # the PNGs and each split's styles.csv
    assert len(blobs) == len(pngs) + 3
    convert_folder(midi_dir, out, workers=1, steps_per_beat=4, sustain=True)
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == blobs
