"""Moods: the note edits they make and the velocities they set (img2midi/mood.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from img2midi import roll_to_notes
from img2midi.mood import (
    MOODS,
    arrange,
    colour,
    fit_tonic,
    keep_strongest,
    mean_velocity,
    merge_overlaps,
)
from midi2img.core import notes_to_roll

REPO = Path(__file__).resolve().parents[1]
RATE = 44100


def test_keep_strongest_keeps_at_most_n_notes_a_beat_the_strongest():
    notes = np.array([[60, 0, 1, 10], [62, 1, 2, 20], [64, 2, 3, 30], [65, 4, 5, 40], [67, 9, 10, 50]])
    kept = keep_strongest(notes, np.array([5, 9, 7, 1, 1]), per_beat=2, steps_per_beat=4)
    assert kept.tolist() == [[62, 1, 2, 20], [64, 2, 3, 30], [65, 4, 5, 40], [67, 9, 10, 50]]


def test_merge_overlaps_cuts_at_the_next_onset_also_across_a_loop_point():
    notes = np.array([[60, 0, 8, 10], [60, 4, 6, 20], [60, 4, 5, 30], [62, 36, 45, 40], [62, 2, 3, 50]])
    assert merge_overlaps(notes).tolist() == [[60, 0, 4, 10], [62, 2, 3, 50], [60, 4, 6, 20], [62, 36, 45, 40]]
    assert merge_overlaps(notes, loop_steps=40).tolist() == [[60, 0, 4, 10], [62, 2, 3, 50], [60, 4, 6, 20],
                                                             [62, 36, 42, 40]]


def varied_roll(rng: np.random.Generator, n_steps: int = 240) -> np.ndarray:
    """A roll of random notes with recorded-like dynamics: velocity mean 64, sd 15."""
    starts = rng.integers(0, n_steps - 8, 300)
    velocities = np.clip(np.rint(rng.normal(64, 15, 300)), 1, 127)
    notes = np.stack([rng.integers(40, 90, 300), starts, starts + rng.integers(1, 8, 300), velocities], axis=1)
    return notes_to_roll(merge_overlaps(notes.astype(np.int64)), n_steps)


@pytest.mark.parametrize("name", list(MOODS))
def test_a_mood_sets_the_mean_velocity_and_keeps_the_dynamics(name):
    mood = MOODS[name]
    roll = varied_roll(np.random.default_rng(5))
    decoded = roll_to_notes(roll, mood.threshold)
    notes = arrange(decoded, roll, mood)
    assert abs(notes[:, 3].mean() - mood.velocity) <= 0.5  # the mood's loudness...
    # ...and the dynamics the roll had, not one velocity: the mood keeps some notes (the strongest, so the
    # spread shrinks a little) and moves every kept note's velocity by one offset (clipped to 1..127)
    assert notes[:, 3].std() >= 0.8 * decoded[:, 3].std() > 10 and len(np.unique(notes[:, 3])) > 10
    after = Counter(notes[:, 3].tolist())
    assert any(not after - Counter(np.clip(decoded[:, 3] + offset, 1, 127).tolist()) for offset in range(-126, 127))


def test_mean_velocity_moves_all_notes_by_one_offset_and_clips_at_the_ends():
    notes = np.array([[60, 0, 1, 50], [62, 1, 2, 70], [64, 2, 3, 90]])
    assert mean_velocity(notes, 56)[:, 3].tolist() == [36, 56, 76]
    assert mean_velocity(notes, 120)[:, 3].tolist() == [106, 126, 127]  # clipped: the nearest mean, 119.67
    assert mean_velocity(notes, 127)[:, 3].tolist() == [127, 127, 127]
    assert mean_velocity(np.zeros((0, 4), np.int64), 64).shape == (0, 4)


def test_sample_without_a_mood_writes_the_velocities_as_decoded():
    roll = varied_roll(np.random.default_rng(6))
    decoded = roll_to_notes(roll)
    notes = arrange(decoded, roll, None)
    np.testing.assert_array_equal(notes, merge_overlaps(decoded))
    assert notes[:, 3].std() > 10


@pytest.mark.parametrize("name", list(MOODS))
def test_colour_puts_notes_in_the_mood_key_and_register(name):
    mood = MOODS[name]
    rng = np.random.default_rng(1)
    pitches = rng.choice([61, 63, 65, 66, 68, 70, 72], size=200) + rng.choice([-12, 0, 12], size=200)  # C# major
    starts = np.arange(200) * 2
    notes = np.stack([pitches, starts, starts + rng.integers(1, 6, 200), rng.integers(1, 128, 200)], axis=1)
    coloured = colour(notes, mood)
    assert set(np.unique(coloured[:, 0] % 12)) <= {(mood.tonic + d) % 12 for d in mood.scale}
    assert fit_tonic(coloured, mood.mode) == mood.tonic
    assert abs(coloured[:, 0].mean() - mood.centre) <= 6
    assert np.all(np.abs(coloured[:, 0] - mood.centre) <= mood.spread)
    np.testing.assert_array_equal(coloured[:, 1:], notes[:, 1:])  # only pitches move (not times, not velocities)
