"""Every evaluation metric on hand-made rolls whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg

from midi2img.spec import IMAGE_SHAPE, ONSET_LEVEL, SUSTAIN_LEVEL, pitch_to_row
from model import metrics

SECONDS = IMAGE_SHAPE[1] * metrics.SECONDS_PER_STEP  # 37.5 s a roll


def roll_of(*notes: tuple[int, int, int]) -> np.ndarray:
    """A roll with the given (pitch, start, end) notes drawn as onset then sustain pixels."""
    roll = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
    for pitch, start, end in notes:
        roll[pitch_to_row(pitch), start:end] = SUSTAIN_LEVEL
        roll[pitch_to_row(pitch), start] = ONSET_LEVEL
    return roll


def stats(roll: np.ndarray) -> dict[str, float]:
    return dict(zip(metrics.STATISTICS, metrics.roll_statistics(roll), strict=True))


def test_one_held_note():
    s = stats(roll_of((60, 0, 8)))
    assert s["onsets_per_second"] == pytest.approx(1 / SECONDS)
    assert s["mean_note_seconds"] == pytest.approx(8 * 0.125)
    assert s["polyphony"] == 1
    assert s["polyphony_rate"] == 0
    assert s["silent_rate"] == pytest.approx(292 / 300)
    assert s["pitch_range"] == 0
    assert s["pitch_class_entropy"] == 0
    assert s["scale_consistency"] == 1


def test_chords_count_polyphony_only_where_something_sounds():
    # A C major triad for 4 steps, then a single note for 4 more steps, the rest silent.
    s = stats(roll_of((60, 0, 4), (64, 0, 4), (67, 0, 4), (72, 4, 8)))
    assert s["polyphony"] == pytest.approx((3 * 4 + 1 * 4) / 8)
    assert s["polyphony_rate"] == pytest.approx(4 / 300)
    assert s["silent_rate"] == pytest.approx(292 / 300)
    assert s["pitch_range"] == 12
    assert s["mean_note_seconds"] == pytest.approx(0.5)
    # Pitch classes C, E, G, C: shares 1/2, 1/4, 1/4 -> 1.5 bits; all in C major.
    assert s["pitch_class_entropy"] == pytest.approx(1.5)
    assert s["scale_consistency"] == 1


def test_repeated_notes_are_separate_onsets():
    s = stats(roll_of((60, 0, 2), (60, 2, 4), (60, 4, 6)))
    assert s["onsets_per_second"] == pytest.approx(3 / SECONDS)
    assert s["mean_note_seconds"] == pytest.approx(0.25)


def test_chromatic_scale_has_maximal_entropy_and_seven_of_twelve_in_any_key():
    s = stats(roll_of(*[(60 + k, 2 * k, 2 * k + 1) for k in range(12)]))
    assert s["pitch_class_entropy"] == pytest.approx(math.log2(12))
    assert s["scale_consistency"] == pytest.approx(7 / 12)


def test_scale_consistency_is_the_best_of_the_24_keys():
    # A harmonic minor scale fits none of the 24 scales whole:
    # A B C D E F G# -> in no major scale entirely, 6/7 in A minor (natural) and in C major.
    s = stats(roll_of(*[(p, i, i + 1) for i, p in enumerate((57, 59, 60, 62, 64, 65, 68))]))
    assert s["scale_consistency"] == pytest.approx(6 / 7)


def test_empty_roll_scores_zero_not_nan():
    s = stats(np.zeros(IMAGE_SHAPE, dtype=np.uint8))
    assert s["silent_rate"] == 1
    assert all(v == 0 for k, v in s.items() if k != "silent_rate")
    assert np.all(np.isfinite(metrics.roll_features(np.zeros(IMAGE_SHAPE, dtype=np.uint8))))


def test_features_hold_histograms_then_statistics():
    roll = roll_of((21, 0, 1), (60, 10, 13), (60, 20, 60))
    f = metrics.roll_features(roll)
    bands = f[:metrics.N_BANDS]
    classes = f[metrics.N_BANDS:metrics.N_BANDS + 12]
    lengths = f[metrics.N_BANDS + 12:metrics.N_BANDS + 19]
    assert bands[0] == pytest.approx(1 / 3) and bands[(60 - 21) // 6] == pytest.approx(2 / 3)
    assert classes[9] == pytest.approx(1 / 3) and classes[0] == pytest.approx(2 / 3)  # A0, then two Cs
    # Lengths 1, 3 and 40 steps -> bins "1", "3-4" and "33+".
    assert lengths.tolist() == pytest.approx([1 / 3, 0, 1 / 3, 0, 0, 0, 1 / 3])
    assert np.array_equal(metrics.statistics_of(f[None]), metrics.roll_statistics(roll)[None])


def test_frechet_distance_matches_the_textbook_formula():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 5))
    b = rng.normal(size=(300, 5)) @ rng.normal(size=(5, 5)) + 2.0
    scale = metrics.Standardizer(a)
    x, y = scale(a), scale(b)
    ca, cb = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    expected = np.sum((x.mean(0) - y.mean(0)) ** 2) + np.trace(ca + cb - 2 * np.real(scipy.linalg.sqrtm(ca @ cb)))
    assert metrics.frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(500, 4))
    assert metrics.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    # Shifting one standardized feature by 3 sd adds 9.
    shifted = a.copy()
    shifted[:, 0] += 3 * a[:, 0].std()
    assert metrics.frechet_distance(a, shifted) == pytest.approx(9, rel=1e-6)


def test_frechet_distance_survives_features_that_never_vary():
    rng = np.random.default_rng(2)
    a = np.column_stack([rng.normal(size=300), np.zeros(300)])
    b = np.column_stack([rng.normal(size=300), np.full(300, 2.0)])
    assert metrics.frechet_distance(a, b) == pytest.approx(4.0, abs=0.1)  # raw units where real sd is 0


def test_histogram_overlap():
    assert metrics.histogram_overlap(np.array([1, 1, 0]), np.array([2, 2, 0])) == pytest.approx(1)
    assert metrics.histogram_overlap(np.array([1, 0]), np.array([0, 1])) == 0
    assert metrics.histogram_overlap(np.array([3, 1]), np.array([1, 1])) == pytest.approx(0.75)


def test_mean_pairwise_distance():
    points = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 4.0]])
    assert metrics.mean_pairwise_distance(points) == pytest.approx((5 + 4 + 3) / 3)
    assert metrics.mean_pairwise_distance(np.ones((5, 3))) == pytest.approx(0, abs=1e-6)


def test_nearest_jaccard_distance_finds_copies_and_ignores_density():
    a = roll_of((60, 0, 100))
    b = roll_of((60, 0, 50))  # half of a
    c = roll_of((40, 0, 100))  # disjoint from a
    references = np.stack([b, c, np.zeros(IMAGE_SHAPE, dtype=np.uint8)])
    distances = metrics.nearest_jaccard_distance(np.stack([a, c, b]), references, chunk=2)
    assert distances.tolist() == pytest.approx([0.5, 0.0, 0.0])
