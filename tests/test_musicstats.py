"""Differentiable musical statistics and the feature-matching loss: values a musician would read, and slopes."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from midi2img.core import notes_to_roll
from midi2img.spec import WINDOW_STEPS
from model import musicstats
from model.config import TrainConfig
from model.data import pixels_to_tanh
from model.dcgan import build_dcgan
from model.step import GanStep

STAT = {name: i for i, name in enumerate(musicstats.NAMES)}


def tanh_rolls(*note_lists: list[tuple[int, int, int, int]]) -> np.ndarray:
    """(n, 106, T, 1) float32 rolls in the generator's range from (pitch, start, end, velocity) notes."""
    rolls = [notes_to_roll(np.array(notes, dtype=np.int64).reshape(-1, 4), WINDOW_STEPS) for notes in note_lists]
    return pixels_to_tanh(np.stack(rolls).astype(np.float32))[..., None]


def statistics(rolls: np.ndarray) -> np.ndarray:
    return keras.ops.convert_to_numpy(musicstats.roll_statistics(rolls))


def c_major_chords() -> list[tuple[int, int, int, int]]:
    """A C major triad struck on every beat and held for it, at velocity 81."""
    return [(pitch, start, start + 4, 81) for start in range(0, WINDOW_STEPS, 4) for pitch in (60, 64, 67)]


def test_statistics_of_a_held_chord_on_every_beat():
    s = statistics(tanh_rolls(c_major_chords()))[0]
    assert len(s) == len(musicstats.NAMES)
    assert s[STAT["onsets_per_step"]] == pytest.approx(3 * 75 / WINDOW_STEPS)
    assert s[STAT["onsets_per_sounding"]] == pytest.approx(0.25)  # four steps a note
    assert s[STAT["polyphony_mean"]] == pytest.approx(3.0)
    assert s[STAT["polyphony_sd"]] == pytest.approx(musicstats.EPSILON ** 0.5)  # flat: 0 but for the floor
    assert s[STAT["silent_steps"]] == pytest.approx(0.0)
    assert s[STAT["chord_share"]] == pytest.approx(2 / 3)  # two of each three onsets share their step
    assert s[STAT["on_beat_share"]] == pytest.approx(1.0)
    assert s[STAT["length_at_least_4"]] == pytest.approx(1.0)
    assert s[STAT["length_at_least_8"]] == pytest.approx(0.0)
    assert s[[STAT["pitch_class_0"], STAT["pitch_class_4"], STAT["pitch_class_7"]]] == pytest.approx([1 / 3] * 3)
    assert s[STAT["key_clarity"]] > 0.7  # C major, clearly
    assert s[STAT["velocity_mean"]] == pytest.approx(40 / 63, abs=1e-3)  # level 232 in the onset band 192..255
    assert s[STAT["velocity_sd"]] == pytest.approx(musicstats.EPSILON ** 0.5)
    assert s[STAT["chroma_repetition_1"]] == pytest.approx(1.0, abs=1e-3)  # every beat the same chord


def test_statistics_tell_a_scale_from_chords_and_silence_counts():
    scale = [(60 + step % 12, step, step + 1, 64) for step in range(0, 144)]  # 12 chromatic runs, then silence
    s = statistics(tanh_rolls(scale))[0]
    assert s[STAT["chord_share"]] == pytest.approx(0.0)
    assert s[STAT["silent_steps"]] == pytest.approx(1 - 144 / WINDOW_STEPS)
    assert s[STAT["length_at_least_2"]] == pytest.approx(0.0)
    assert s[STAT["key_clarity"]] < 0.1  # all twelve pitch classes alike: no key


def test_every_statistic_has_a_slope_through_the_snapped_levels():
    rolls = keras.ops.convert_to_tensor(tanh_rolls(c_major_chords(), [(48, 10, 40, 30), (72, 50, 51, 120)]))
    import tensorflow as tf  # the gradient tape; the statistics themselves are backend-neutral Keras ops

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the slope check uses TensorFlow's tape")
    with tf.GradientTape() as tape:
        tape.watch(rolls)
        total = tf.reduce_sum(musicstats.roll_statistics(rolls))
    slope = tape.gradient(total, rolls).numpy()
    assert np.isfinite(slope).all() and np.abs(slope).sum() > 0


def test_mmd_is_near_zero_for_one_set_and_grows_as_a_set_moves_away():
    rng = np.random.default_rng(0)
    real = rng.standard_normal((256, 20)).astype(np.float32)
    same = rng.standard_normal((64, 20)).astype(np.float32)
    mmd = [float(musicstats.feature_mmd(same + shift, real)) for shift in (0.0, 0.5, 2.0)]
    assert abs(mmd[0]) < 0.05
    assert mmd[0] < mmd[1] < mmd[2]


def test_a_step_with_feature_matching_trains_the_generator_and_reports_the_mmd():
    config = TrainConfig.from_preset("tiny", feature_matching=1.0)
    models = build_dcgan(config)
    bank = statistics(tanh_rolls(c_major_chords(), [(48, 10, 40, 30)], [(72, 0, 3, 100), (75, 8, 9, 50)]))
    standardizer = musicstats.standardizer(bank)
    gan = GanStep(models, config, standardizer)
    rng = np.random.default_rng(0)
    batch = config.batch_size
    before = [keras.ops.convert_to_numpy(v) for v in models.generator.trainable_variables]
    state, out = gan.step(gan.state(), tanh_rolls(*[c_major_chords()] * batch), rng.standard_normal((batch, 14)),
                          np.ones((batch, 1)), np.zeros((batch, 1)), 0.9, step=0,
                          reference=(bank - standardizer[0]) / standardizer[1])
    gan.write_back(state)
    assert np.isfinite(float(out.feature_mmd)) and float(out.feature_mmd) > 0
    after = [keras.ops.convert_to_numpy(v) for v in models.generator.trainable_variables]
    assert not all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_feature_matching_without_a_bank_is_refused():
    config = TrainConfig.from_preset("tiny", feature_matching=1.0)
    with pytest.raises(ValueError, match="standardizer"):
        GanStep(build_dcgan(config), config)
