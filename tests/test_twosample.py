"""The two-sample tests on small hand-made rolls: features, baselines, grouping and both classifiers."""

from __future__ import annotations

import numpy as np
import pytest

from midi2img.core import notes_to_roll
from midi2img.spec import IMAGE_SHAPE, SUSTAIN_LEVEL, WINDOW_STEPS, pitch_to_row
from midi2img.styles import piece_of
from model import twosample

STEPS = WINDOW_STEPS
VELOCITY = 81


def roll_of(*notes: tuple[int, ...]) -> np.ndarray:
    """A roll of (pitch, start, end[, velocity]) notes, as midi2img draws them."""
    rows = [(*n, VELOCITY) if len(n) == 3 else n for n in notes]
    return notes_to_roll(np.array(rows, dtype=np.int64).reshape(-1, 4), STEPS)


def features_of(roll: np.ndarray) -> dict[str, float]:
    notes, canonical, _ = twosample.canonicalize(roll)
    return dict(zip(twosample.MUSICAL_FEATURES, twosample.musical_features(notes, canonical), strict=True))


def dynamics_of(roll: np.ndarray) -> dict[str, float]:
    prepared = twosample.prepare(roll[None], ["piece"])
    return dict(zip(twosample.DYNAMICS_FEATURES, prepared.dynamics[0], strict=True))


def test_canonical_roll_keeps_what_sounds_on_a_piano():
    roll = roll_of((60, 0, 4), (120, 10, 20), (64, 30, 34))
    roll[pitch_to_row(50), 100:110] = 40  # below the decoding threshold: makes no sound
    notes, canonical, struck = twosample.canonicalize(roll)
    assert notes[:, :3].tolist() == [[60, 0, 4], [64, 30, 34]]  # 120 is no piano key
    assert canonical[pitch_to_row(120)].max() == 0 and canonical[pitch_to_row(50)].max() == 0
    assert struck.all() and np.all(notes[:, 3] == VELOCITY)


def test_a_scale_moves_by_steps_and_an_arpeggio_by_leaps():
    scale = features_of(roll_of(*[(p, 4 * i, 4 * i + 4) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])]))
    assert scale["top_line_step_share"] == 1 and scale["top_line_leap_share"] == 0
    assert scale["top_line_mean_interval"] == pytest.approx(12 / 7)
    leaps = features_of(roll_of(*[(p, 4 * i, 4 * i + 4) for i, p in enumerate([48, 60, 72, 84, 72, 60, 48])]))
    assert leaps["top_line_leap_share"] == 1 and leaps["top_line_step_share"] == 0
    assert scale["chord_share"] == 0 and scale["inter_onset_mean"] == 4 and scale["inter_onset_sd"] == 0
    assert scale["onset_step_share"] == pytest.approx(8 / STEPS) and scale["on_beat_share"] == 1
    assert scale["key_clarity"] > 0.8  # C major, every degree once and C twice


def test_chords_count_as_chords_and_the_top_line_is_the_highest_note():
    triads = [(p + 2 * i, 8 * i, 8 * i + 8) for i in range(10) for p in (48, 52, 55)]
    f = features_of(roll_of(*triads, (90, 100, 104)))
    assert f["chord_share"] == pytest.approx(30 / 31)
    assert f["onsets_per_onset_step"] == pytest.approx(31 / 11)
    assert f["top_line_step_share"] == pytest.approx(9 / 10)  # +2 each time, then the leap up to 90
    assert f["bass_line_step_share"] == pytest.approx(9 / 10)
    # A major triad holds a major third, a minor third and a fourth: interval classes 4, 3, 5.
    shares = [f[f"interval_class_{k}"] for k in range(1, 7)]
    assert shares == pytest.approx([0, 0, 1 / 3, 1 / 3, 1 / 3, 0])


def test_a_repeated_one_beat_figure_repeats_and_random_notes_do_not():
    figure = [(60, 0, 1), (64, 1, 2), (67, 2, 3), (64, 3, 4)]
    repeated = features_of(roll_of(*[(p, s + 4 * b, e + 4 * b) for b in range(STEPS // 4) for p, s, e in figure]))
    assert repeated["pitch_repetition"] == pytest.approx(1)
    assert repeated["chroma_repetition"] == pytest.approx(1)
    assert repeated["onset_repetition"] == 0  # an onset every step: nothing varies, so nothing repeats
    rng = np.random.default_rng(0)
    starts = np.sort(rng.choice(STEPS, 150, replace=False))
    noise = features_of(roll_of(*[(int(rng.integers(40, 90)), int(s), int(s) + 1) for s in starts]))
    assert noise["pitch_repetition"] < 0.3 and noise["chroma_repetition"] < 0.6 and noise["onset_repetition"] < 0.4
    bars = features_of(roll_of(*[(60, 16 * k + s, 16 * k + s + 1) for k in range(STEPS // 16) for s in (0, 3, 6)]))
    assert bars["onset_repetition"] > 0.95  # the same rhythm every 4 beats (the last 12 steps are silent)


def test_register_lengths_and_silence():
    f = features_of(roll_of((40, 0, 2), (45, 10, 18), (80, 20, 24), (84, 30, 31)))
    assert f["low_share"] == 0.5 and f["high_share"] == 0.5
    assert f["mean_pitch"] == pytest.approx(62.25) and f["lowest_pitch"] == 40 and f["highest_pitch"] == 84
    assert f["note_length_sd"] == pytest.approx(np.std([2, 8, 4, 1]))
    assert f["log_length_mean"] == pytest.approx(np.mean(np.log2([2, 8, 4, 1])))
    assert f["longest_silence_share"] == pytest.approx((STEPS - 31) / STEPS)
    assert f["max_polyphony"] == 1


def test_dynamics_follow_the_velocities_of_struck_notes():
    rising = roll_of(*[(40 + 4 * i, 4 * i, 4 * i + 2, 31 + 8 * i) for i in range(10)])
    d = dynamics_of(rising)
    assert d["velocity_mean"] == pytest.approx(np.mean([31 + 8 * i for i in range(10)]))
    assert d["velocity_pitch_correlation"] == pytest.approx(1)
    assert d["velocity_change"] == pytest.approx(8)
    # A melody over soft chords: the top line is louder.
    voiced = roll_of(*[(n, 8 * i, 8 * i + 4, v) for i in range(8) for n, v in ((48, 41), (52, 41), (72, 91))])
    assert dynamics_of(voiced)["top_line_velocity_excess"] == pytest.approx(50)
    # A note carried in at column 0 (sustain, no onset pixel) has no velocity of its own: left out.
    carried = roll_of((60, 10, 14, 101))
    carried[pitch_to_row(50), 0:6] = SUSTAIN_LEVEL
    assert dynamics_of(carried)["velocity_mean"] == pytest.approx(101)


def test_empty_roll_has_finite_features():
    empty = np.zeros(IMAGE_SHAPE, np.uint8)
    prepared = twosample.prepare(np.stack([empty, empty]), ["a", "b"])
    assert np.all(np.isfinite(prepared.musical)) and np.all(prepared.dynamics == 0)


def test_piece_of_strips_the_window_index():
    assert piece_of("data/x/MIDI-UNPROCESSED_01_R1_wav--1_0012.png") == "MIDI-UNPROCESSED_01_R1_wav--1"
    assert piece_of("roll_7.png") == "roll_7"


def test_grouped_folds_never_split_a_group():
    rng = np.random.default_rng(0)
    groups = np.array([f"piece{g}" for g in rng.integers(0, 12, 60)] + [f"gen:{i}" for i in range(60)])
    labels = np.repeat([0, 1], 60)
    folds = twosample.grouped_folds(labels, groups, 5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(120))  # every roll tested exactly once
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert 0 < labels[test].mean() < 1
    with pytest.raises(ValueError, match="groups per set"):
        twosample.grouped_folds(labels, np.where(labels == 0, "one piece", groups), 5, seed=0)


def random_rolls(rng: np.random.Generator, count: int, kind: str) -> np.ndarray:
    """Made-up sets: "calm" (long notes in the middle register, soft) or "busy" (short high notes, loud)."""
    rolls = []
    for _ in range(count):
        if kind == "calm":
            n, low, high, lengths, velocity = rng.integers(20, 40), 45, 75, (4, 16), (40, 70)
        else:
            n, low, high, lengths, velocity = rng.integers(120, 160), 70, 100, (1, 3), (80, 120)
        starts = rng.integers(0, STEPS, n)
        notes = np.stack([rng.integers(low, high, n), starts, starts + rng.integers(*lengths, n),
                          rng.integers(*velocity, n)], axis=1)
        rolls.append(notes_to_roll(notes, STEPS))
    return np.stack(rolls)


def pieces(label: str, count: int) -> list[str]:
    return [f"{label}{i // 2}" for i in range(count)]  # two windows a piece


@pytest.fixture(scope="module")
def made_up_sets():
    rng = np.random.default_rng(1)
    return {"real": twosample.prepare(random_rolls(rng, 40, "calm"), pieces("real", 40)),
            "same": twosample.prepare(random_rolls(rng, 40, "calm"), pieces("same", 40)),
            "busy": twosample.prepare(random_rolls(rng, 40, "busy"), twosample.own_groups("busy", 40))}


def test_shuffled_blocks_keep_each_blocks_notes(made_up_sets):
    notes = made_up_sets["real"].notes[0]
    shuffled = twosample.shuffle_blocks(notes, STEPS, np.random.default_rng(0))
    block = twosample.BLOCK_STEPS

    def by_block(n: np.ndarray) -> list[list[tuple]]:
        return [sorted((p, s % block, e - s, v) for p, s, e, v in n[n[:, 1] // block == b].tolist())
                for b in range(STEPS // block)]

    assert sorted(by_block(shuffled)) == sorted(by_block(notes))
    assert by_block(shuffled) != by_block(notes)
    tail = notes[:, 1] >= STEPS // block * block  # the partial last block stays put
    assert np.array_equal(shuffled[tail], notes[tail])
    rolls = twosample.shuffled_block_rolls(made_up_sets["real"], seed=0)
    assert rolls.shape == (40, *IMAGE_SHAPE)
    # Same sounding pitches in every roll (what moved is when), same onsets where no two notes collide.
    for before, after in zip(made_up_sets["real"].rolls, rolls, strict=True):
        assert np.array_equal(before.any(axis=1), after.any(axis=1))


def test_random_notes_keep_the_marginals(made_up_sets):
    real = made_up_sets["real"]
    fake = twosample.prepare(twosample.random_note_rolls(real, 200, seed=0), twosample.own_groups("r", 200))
    real_notes, fake_notes = np.concatenate(real.notes), np.concatenate(fake.notes)
    counts = [len(n) for n in real.notes]
    assert np.mean([len(n) for n in fake.notes]) == pytest.approx(np.mean(counts), rel=0.15)
    assert fake_notes[:, 0].mean() == pytest.approx(real_notes[:, 0].mean(), abs=1.5)
    assert fake_notes[:, 0].min() >= real_notes[:, 0].min() and fake_notes[:, 0].max() <= real_notes[:, 0].max()
    assert fake_notes[:, 3].mean() == pytest.approx(real_notes[:, 3].mean(), abs=2)
    length = lambda n: (n[:, 2] - n[:, 1]).mean()  # noqa: E731
    assert length(fake_notes) == pytest.approx(length(real_notes), rel=0.2)  # overlaps and the edge cut a few


def test_feature_classifier_tells_different_sets_apart_and_not_alike_ones(made_up_sets):
    real = made_up_sets["real"]
    for other, check in (("same", lambda a: a < 0.75), ("busy", lambda a: a > 0.9)):
        o = made_up_sets[other]
        scores = twosample.boosted_accuracy(real.musical, real.groups, o.musical, o.groups, folds=5, seed=0)
        assert len(scores.accuracies) == 5 and check(scores.mean), (other, scores)
    busy = made_up_sets["busy"]
    assert twosample.boosted_accuracy(real.dynamics, real.groups, busy.dynamics, busy.groups).mean > 0.9
    mean, sd = twosample.feature_accuracy(real.rolls, real.groups, busy.rolls, folds=3)
    assert mean > 0.9 and sd >= 0


def test_cnn_tells_different_sets_apart_and_not_alike_ones(made_up_sets):
    tiny = twosample.CnnSettings(filters=(4, 8), epochs=4, batch_size=8, learning_rate=1e-2)
    real = made_up_sets["real"]
    for other, check in (("same", lambda a: a < 0.75), ("busy", lambda a: a > 0.9)):
        o = made_up_sets[other]
        scores = twosample.cnn_accuracy(real.rolls, real.groups, o.rolls, o.groups, folds=3, seed=0, settings=tiny)
        assert check(scores.mean), (other, scores)
