"""Pieces of any length and loops: the latent path, the windows and their cross-fades (model/longform.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from img2midi import roll_to_notes
from img2midi.core import roll_to_loop_notes, rotate_loop_notes
from midi2img.spec import DEFAULT_VELOCITY, N_PITCHES, WINDOW_STEPS, pitch_to_row
from model.longform import (
    ANCHOR_WINDOWS,
    EDGE_STEPS,
    OVERLAP_STEPS,
    anchor_count,
    join_windows,
    latent_path,
    window_starts,
)

REPO = Path(__file__).resolve().parents[1]
RATE = 44100


def angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)))


@pytest.mark.parametrize("loop", [False, True])
def test_latent_path_moves_in_small_steps_and_a_loop_returns_to_its_start(loop):
    n = 9
    count = anchor_count(n, loop)
    anchors = np.random.default_rng(0).standard_normal((count, 14)).astype(np.float32)
    path = latent_path(anchors, n, loop)
    assert path.shape == (n, 14)
    np.testing.assert_allclose(path[0], anchors[0])
    ring = np.concatenate([path, path[:1]]) if loop else path
    steps = [angle(a, b) for a, b in zip(ring[:-1], ring[1:], strict=True)]
    widest = max(angle(anchors[k], anchors[(k + 1) % count]) for k in range(count if loop else count - 1))
    assert max(steps) <= widest / ANCHOR_WINDOWS + 1e-4  # a third of the way between anchors per window
    assert min(steps) > 0.05  # ...and moving: neighbours are related, not repeats
    if not loop:
        np.testing.assert_allclose(path[ANCHOR_WINDOWS], anchors[1], rtol=1e-6)


@pytest.mark.parametrize("total", [40, 300, 301, 700, 1500])
@pytest.mark.parametrize("loop", [False, True])
def test_windows_cover_the_piece_and_overlap_by_the_crossfade(total, loop):
    starts = window_starts(total, loop)
    assert starts[0] == 0 and np.all(np.diff(starts) > 0)
    if loop:
        gaps = np.diff(np.append(starts, total))  # the last window runs on into the first
    else:
        gaps = np.diff(starts)
        # the last window runs past the end, so that its own last steps (an onset pile) are cut
        one_window = len(starts) == 1 and total + EDGE_STEPS <= WINDOW_STEPS
        assert starts[-1] + WINDOW_STEPS == total + EDGE_STEPS or one_window
    assert np.all(WINDOW_STEPS - gaps >= OVERLAP_STEPS)


def held_note_rolls(count: int, pitch: int) -> np.ndarray:
    """Windows that each hold one pitch from their first column to their last, onset pixel first."""
    rolls = np.zeros((count, N_PITCHES, WINDOW_STEPS), np.uint8)
    rolls[:, pitch_to_row(pitch), :] = 128
    rolls[:, pitch_to_row(pitch), 0] = 255
    return rolls


def test_a_note_both_windows_hold_continues_through_the_join():
    starts, total = np.array([0, 268]), 568
    piece = join_windows(held_note_rolls(2, 60), starts, total, loop=False)
    assert roll_to_notes(piece).tolist() == [[60, 0, total, 127]]  # no gap, no second attack at the join


def test_agreeing_windows_give_exactly_their_notes_no_gap_no_pile():
    pattern = np.tile([255, 128, 0, 0], WINDOW_STEPS // 4).astype(np.uint8)  # a note each beat, the same grid
    rolls = np.zeros((2, N_PITCHES, WINDOW_STEPS), np.uint8)
    rolls[:, pitch_to_row(64)] = pattern
    starts, total = np.array([0, 268]), 568
    notes = roll_to_notes(join_windows(rolls, starts, total, loop=False))
    assert notes.tolist() == [[64, s, s + 2, 127] for s in range(0, total, 4)]


def test_a_note_only_one_window_has_fades_out_inside_the_overlap():
    rolls = held_note_rolls(2, 60)
    rolls[1] = 0  # the second window is silent
    starts, total = np.array([0, 268]), 568
    (note,) = roll_to_notes(join_windows(rolls, starts, total, loop=False)).tolist()
    assert note[1] == 0 and 268 < note[2] < WINDOW_STEPS  # neither cut at the first window's edge nor held on


def test_a_loop_shorter_than_a_window_wraps_only_the_overlap_onto_its_start():
    window = np.random.default_rng(0).integers(0, 256, (1, N_PITCHES, WINDOW_STEPS)).astype(np.uint8)
    total = 40
    piece = join_windows(window, window_starts(total, loop=True), total, loop=True)
    np.testing.assert_array_equal(piece[:, OVERLAP_STEPS:], window[0, :, OVERLAP_STEPS:total])
    head, after_end = window[0, :, :OVERLAP_STEPS], window[0, :, total:total + OVERLAP_STEPS]
    assert np.all(piece[:, :OVERLAP_STEPS] >= np.minimum(head, after_end))  # a cross-fade of the two,
    assert np.all(piece[:, :OVERLAP_STEPS] <= np.maximum(head, after_end))  # not the window averaged over itself


def test_a_loop_joins_its_last_window_into_its_first_and_decodes_as_a_ring():
    total = 500
    starts = window_starts(total, loop=True)
    piece = join_windows(held_note_rolls(len(starts), 48), starts, total, loop=True)
    # held all round: one note, no re-attack; the cross-fades soften every window's onset into sustain,
    # so it is a drone with no attack in the roll, at the default velocity
    assert roll_to_loop_notes(piece).tolist() == [[48, 0, total, DEFAULT_VELOCITY]]

    ring = np.zeros((N_PITCHES, 40), np.uint8)
    ring[pitch_to_row(60), [36, 37, 38, 39, 0, 1, 2]] = [255, 128, 128, 128, 128, 128, 128]
    ring[pitch_to_row(72), 10:14] = [224, 128, 128, 128]
    ring[pitch_to_row(50), :] = 128  # sounds all round without an onset: a drone, at the default velocity
    assert roll_to_loop_notes(ring).tolist() == [[50, 0, 40, DEFAULT_VELOCITY], [72, 10, 14, 65], [60, 36, 43, 127]]
    assert rotate_loop_notes(roll_to_loop_notes(ring), 36, 40).tolist() == [
        [60, 0, 7, 127], [50, 4, 44, DEFAULT_VELOCITY], [72, 14, 18, 65]]
