"""The DCGAN, its training loop and checkpoints, on whatever KERAS_BACKEND is set (TensorFlow by default)."""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from img2midi.core import roll_to_notes
from midi2img.spec import (
    DEFAULT_VELOCITY,
    IMAGE_SHAPE,
    ONSET_LEVEL,
    ONSET_MIN_LEVEL,
    SUSTAIN_LEVEL,
    pitch_to_row,
    row_to_pitch,
    velocity_to_level,
)
from midi2img.styles import STYLE_CLASSES, write_style_index
from model import checkpoint, twosample
from model.config import TrainConfig
from model.data import ImageStream, list_images, pixels_to_tanh, tanh_to_pixels
from model.dcgan import (
    PROFILE_UNITS,
    ROWS_ABOVE_PIANO,
    BeatView,
    ChordGate,
    GateRoll,
    HarmonyView,
    MusicAugment,
    ProfileView,
    RollSummary,
    SnapToLevels,
    TimeWarp,
    build_dcgan,
    distribution_matching_loss,
    grid_and_thickness,
    harmony_matching_loss,
    in_key_share,
    key_matching_loss,
    length_statistics,
    marginal_matching_loss,
    melody_statistics,
    mode_seeking_loss,
    octave_view,
    rhythm_matching_loss,
    rhythm_statistics,
    roll_profile,
    voicing_statistics,
)
from model.fast_layers import DoubledConv2D
from model.generate import generate_rolls, style_input
from model.metrics import STATISTICS, roll_statistics
from model.step import GanStep, input_gradients
from model.train import Balance, labelled_stream, resolve_config, train

TINY = TrainConfig.from_preset("tiny")


def write_rolls(folder: Path, count: int, seed: int = 0) -> Path:
    """Small fake training set: a few random horizontal note bars per roll."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        roll = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
        for _ in range(12):
            row, start = rng.integers(30, 90), rng.integers(0, 290)
            roll[row, start:start + rng.integers(2, 10)] = SUSTAIN_LEVEL
            roll[row, start] = ONSET_LEVEL
        Image.fromarray(roll, mode="L").save(folder / f"piece{i}_0000.png")  # each its own piece
    return folder


def logged_steps(run: Path) -> list[int]:
    with open(run / "log.csv", newline="") as handle:
        return [int(row["step"]) for row in csv.DictReader(handle)]


def one_step(models, config: TrainConfig, seed: int = 0, decay: float = 0.9) -> GanStep:
    """One training step on random rolls, written back into the models."""
    rng = np.random.default_rng(seed)
    batch = config.batch_size
    real = rng.uniform(-1, 1, (batch, *IMAGE_SHAPE, 1)).astype(np.float32)
    gan = GanStep(models, config)
    state, _ = gan.step(gan.state(), real, rng.standard_normal((batch, 14)), np.ones((batch, 1)),
                        np.zeros((batch, 1)), decay, step=0)
    gan.write_back(state)
    return gan


def weights(model) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(v) for v in model.variables]


def test_the_trained_generator_computes_in_bfloat16_and_the_saved_average_in_float32():
    models = build_dcgan(TINY)  # mixed precision is on by default
    assert "mixed_bfloat16" in {layer.dtype_policy.name for layer in models.generator.layers}
    assert {layer.dtype_policy.name for layer in models.average.layers} == {"float32"}  # same notes on every backend
    assert models.generator.output.dtype == "float32"  # pixel levels keep their precision


def test_shapes_and_latent_size():
    generator, discriminator, *_ = build_dcgan(TINY)
    assert generator.input_shape == (None, 14)
    assert generator.output_shape == (None, *IMAGE_SHAPE, 1)
    assert discriminator.output_shape == (None, 1)
    out = generator.predict_on_batch(np.zeros((2, 14), np.float32))
    assert out.min() >= -1 and out.max() <= 1


def test_one_step_trains_both_networks_and_moves_the_average_toward_the_generator():
    models = build_dcgan(TINY.replace(ema=0.9))
    g0, d0, a0 = weights(models.generator), weights(models.discriminator), weights(models.average)
    one_step(models, TINY, decay=0.9)
    g1, d1, a1 = weights(models.generator), weights(models.discriminator), weights(models.average)
    assert not any(np.array_equal(a, b) for a, b in zip(g0, g1, strict=True) if a.ndim > 1)  # every G kernel
    assert not all(np.array_equal(a, b) for a, b in zip(d0, d1, strict=True))
    for before, trained, average in zip(a0, g1, a1, strict=True):  # average <- 0.9 average + 0.1 generator
        np.testing.assert_allclose(average, 0.9 * before + 0.1 * trained, rtol=1e-5, atol=1e-6)


def test_a_step_with_the_r1_penalty_trains_a_discriminator_without_spectral_norm():
    config = TINY.replace(spectral_norm=False, r1_gamma=1.0, r1_every=1)
    models = build_dcgan(config)
    d0 = weights(models.discriminator)
    one_step(models, config)
    assert all(np.isfinite(w).all() for w in weights(models.discriminator))
    assert not all(np.array_equal(a, b) for a, b in zip(d0, weights(models.discriminator), strict=True))


def test_the_patch_critic_judges_every_column_of_the_trunk_and_trains_with_the_r1_penalty():
    config = TINY.replace(patch_critic=1.0, spectral_norm=False, r1_gamma=1.0, r1_every=1)
    models = build_dcgan(config)
    assert models.discriminator.output_shape == [(None, 1), (None, 19)]  # 300 steps halved four times
    patch_layers = [layer for layer in models.discriminator.layers if layer.name.startswith("patch_")]
    before = [w.copy() for layer in patch_layers for w in layer.get_weights()]
    one_step(models, config)
    after = [w for layer in patch_layers for w in layer.get_weights()]
    assert all(np.isfinite(w).all() for w in after)
    assert not any(np.array_equal(a, b) for a, b in zip(before, after, strict=True))


def test_stream_order_is_a_pure_function_of_seed_and_batch_index(tmp_path):
    paths = list_images(write_rolls(tmp_path / "imgs", 10))
    stream = ImageStream(paths, batch_size=4, seed=3)
    assert stream.batches_per_epoch == 2
    epoch0 = stream.batch_paths(0) + stream.batch_paths(1)
    assert len(set(epoch0)) == 8  # no repeats within an epoch
    assert stream.batch_paths(2) != stream.batch_paths(0)  # a new epoch reshuffles
    assert ImageStream(paths, 4, seed=3).batch_paths(5) == stream.batch_paths(5)
    resumed, styles = next(stream.batches(start=3))
    assert np.array_equal(resumed, stream.load_batch(3)[0]) and styles is None
    assert resumed.shape == (4, *IMAGE_SHAPE, 1) and resumed.min() == -1.0 and resumed.max() == 1.0


def test_empty_or_bad_image_folder_stops_with_a_message(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match="no .png files"):
        list_images(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    Image.new("RGB", (300, 106)).save(bad / "color.png")
    with pytest.raises(SystemExit, match="color.png"):
        ImageStream(list_images(bad), 1, 0).load_batch(0)


def test_balance_counts_steps_near_one_half_and_resets():
    config = TINY.replace(average_steps=1, balance_tol=0.05)
    balance = Balance()
    for _ in range(3):
        balance.update(0.52, 0.47, config)
    assert balance.balanced_steps == 3
    balance.update(0.9, 0.5, config)
    assert balance.balanced_steps == 0


def test_stop_rule_fires_when_d_cannot_tell(tmp_path):
    images = write_rolls(tmp_path / "imgs", 16)
    # A loose tolerance makes the untrained discriminator (outputs near 0.5) satisfy the rule at once.
    train(images, tmp_path / "run", preset="tiny", balance_tol=0.5, patience=3, max_steps=50)
    assert logged_steps(tmp_path / "run")[-1] == 3


def test_resume_continues_exactly(tmp_path):
    images = write_rolls(tmp_path / "imgs", 24)
    straight = train(images, tmp_path / "straight", preset="tiny", max_steps=6, checkpoint_every=3)
    train(images, tmp_path / "split", preset="tiny", max_steps=3, checkpoint_every=3)
    resumed = train(images, tmp_path / "split", resume=True, max_steps=6)
    assert straight.name == resumed.name == "step_00000006"
    with np.load(straight / "state.npz") as a, np.load(resumed / "state.npz") as b:
        assert a.files == b.files
        for name in a.files:
            if name != "loop_state":
                np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert logged_steps(tmp_path / "split") == [3, 6]


def test_a_resumed_runs_clock_goes_on_so_minutes_bounds_the_whole_run(tmp_path):
    images = write_rolls(tmp_path / "imgs", 16)
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2)
    with open(run / "log.csv", newline="") as handle:
        spent = float(next(csv.DictReader(handle))["seconds"])
    assert spent > 0
    # the whole budget already spent: the resumed part stops after its first step, not at --max-steps
    assert train(images, run, resume=True, max_steps=20, minutes=spent / 60).name == "step_00000003"
    with open(run / "log.csv", newline="") as handle:
        assert float(list(csv.DictReader(handle))[-1]["seconds"]) >= spent


def test_checkpoints_are_complete_and_pruned(tmp_path):
    images = write_rolls(tmp_path / "imgs", 16)
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=8, checkpoint_every=2, keep=2)
    names = [p.name for p in checkpoint.list_checkpoints(run / "checkpoints")]
    assert names == ["step_00000006", "step_00000008"]
    assert not list((run / "checkpoints").glob(".tmp*"))
    for folder in checkpoint.list_checkpoints(run / "checkpoints"):
        assert {p.name for p in folder.iterdir()} == {"state.npz", "generator.keras", "manifest.json"}
    sample_grid = Image.open(run / "samples" / "step_00000008.png")
    assert sample_grid.mode == "L" and sample_grid.size == (2 * 300 + 2, 2 * 106 + 2)


def test_a_new_run_refuses_to_overwrite_and_resume_refuses_new_architecture(tmp_path):
    images = write_rolls(tmp_path / "imgs", 16)
    train(images, tmp_path / "run", preset="tiny", max_steps=2, checkpoint_every=2)
    with pytest.raises(SystemExit, match="--resume"):
        train(images, tmp_path / "run", preset="tiny", max_steps=2)
    with pytest.raises(SystemExit, match="latent_dim"):
        train(images, tmp_path / "run", resume=True, latent_dim=8)


def test_a_recipe_copied_into_a_new_run_folder_may_change_its_architecture(tmp_path):
    recipe = tmp_path / "run" / "config.json"
    recipe.parent.mkdir()
    TrainConfig.from_preset("tiny").save(recipe)
    config = resolve_config(tmp_path / "run", True, "default", {"generator_channels": (32, 16, 8, 4)})
    assert config.generator_channels == (32, 16, 8, 4) and config.batch_size == 8


def test_seed2023_rebuilds_the_original_layers():
    config = TrainConfig.from_preset("seed2023")
    generator, discriminator, average, d_optimizer, g_optimizer = build_dcgan(config)
    assert average is generator  # no weight averaging in the original
    g_shapes = [tuple(layer.output.shape[1:]) for layer in generator.layers if "conv" in layer.name]
    assert g_shapes == [(14, 40, 256), (28, 80, 256), (56, 160, 256), (112, 320, 256), (112, 320, 512),
                        (112, 320, 512), (*IMAGE_SHAPE, 1)]
    d_shapes = [tuple(layer.output.shape[1:]) for layer in discriminator.layers if "conv" in layer.name]
    assert d_shapes == [(104, 298, 256), (51, 148, 256), (24, 73, 256), (11, 35, 256), (4, 16, 256)]
    assert isinstance(d_optimizer, keras.optimizers.RMSprop)
    assert d_optimizer.clipvalue == 1.0
    assert float(keras.ops.convert_to_numpy(g_optimizer.learning_rate)) == pytest.approx(1e-4)


def test_the_generator_learns_at_its_own_rate_where_one_is_set():
    same = build_dcgan(TrainConfig.from_preset("tiny"))
    slower = build_dcgan(TrainConfig.from_preset("tiny", generator_learning_rate=2e-5))

    def rate(optimizer):
        return float(keras.ops.convert_to_numpy(optimizer.learning_rate))

    assert rate(same.g_optimizer) == pytest.approx(rate(same.d_optimizer))
    assert rate(slower.g_optimizer) == pytest.approx(2e-5)
    assert rate(slower.d_optimizer) == pytest.approx(TrainConfig().learning_rate)


def test_music_augment_shifts_time_and_pitch_circularly_and_only_while_training():
    rolls = np.random.default_rng(0).uniform(-1, 1, (2, *IMAGE_SHAPE, 1)).astype(np.float32)
    augment = MusicAugment(max_shift=20, max_transpose=3, seed=1)
    assert np.array_equal(keras.ops.convert_to_numpy(augment(rolls, training=False)), rolls)
    seen = set()
    for _ in range(6):
        out = keras.ops.convert_to_numpy(augment(rolls, training=True))
        found = [(t, s) for t in range(-3, 4) for s in range(-20, 21)
                 if np.array_equal(out, np.roll(rolls, (-t, -s), axis=(1, 2)))]
        assert len(found) == 1
        seen.add(found[0])
    assert len(seen) > 1  # a new shift each batch


def test_transposition_wraps_round_within_the_piano_keys_and_leaves_the_rows_above_in_place():
    rolls = np.random.default_rng(0).uniform(-1, 1, (2, *IMAGE_SHAPE, 1)).astype(np.float32)
    augment = MusicAugment(max_shift=0, max_transpose=3, seed=1, rows_above=18)
    moved = 0
    for _ in range(6):
        out = keras.ops.convert_to_numpy(augment(rolls, training=True))
        assert np.array_equal(out[:, :18], rolls[:, :18])
        found = [t for t in range(-3, 4) if np.array_equal(out[:, 18:], np.roll(rolls[:, 18:], -t, axis=1))]
        assert len(found) == 1
        moved += found[0] != 0
    assert moved


def test_snapped_output_is_what_the_decoder_reads_and_passes_gradients_straight_through():
    soft = np.random.default_rng(0).uniform(-1, 1, (3, *IMAGE_SHAPE, 1)).astype(np.float32)
    snapped = keras.ops.convert_to_numpy(SnapToLevels()(soft))
    pixels = tanh_to_pixels(snapped)
    assert set(np.unique(pixels)) == {0, SUSTAIN_LEVEL, ONSET_LEVEL}
    soft_pixels = tanh_to_pixels(soft)
    for a, b in zip(soft_pixels[..., 0], pixels[..., 0], strict=True):  # the same notes, only cleaner levels
        # pitch, start and end; the velocity is not compared: snapping puts every onset at ONSET_LEVEL
        assert np.array_equal(roll_to_notes(a)[:, :3], roll_to_notes(b)[:, :3])

    config = TINY.replace(snap_output=True, onset_velocity=False)
    models = build_dcgan(config)
    assert set(np.unique(generate_rolls(models.generator, np.ones((2, 14), np.float32)))) <= {
        0, SUSTAIN_LEVEL, ONSET_LEVEL}
    before = weights(models.generator)
    one_step(models, config)
    assert all(not np.array_equal(a, b) for a, b in zip(before, weights(models.generator), strict=True)
               if a.ndim > 1)  # every kernel learned through the rounding


def test_snapping_with_velocity_keeps_each_onsets_level_and_strikes_heads_at_the_default_velocity():
    soft = np.random.default_rng(0).uniform(-1, 1, (3, *IMAGE_SHAPE, 1)).astype(np.float32)
    pixels = tanh_to_pixels(keras.ops.convert_to_numpy(SnapToLevels(velocity=True)(soft)))
    soft_pixels = tanh_to_pixels(soft)
    onsets = pixels >= ONSET_MIN_LEVEL
    assert np.array_equal(pixels[onsets], soft_pixels[onsets])  # the velocities the generator drew
    assert set(np.unique(pixels[~onsets])) <= {0, SUSTAIN_LEVEL}
    struck = tanh_to_pixels(keras.ops.convert_to_numpy(SnapToLevels(strike_heads=True, velocity=True)(soft)))
    heads = (struck != pixels)
    assert heads.any() and set(np.unique(struck[heads])) == {velocity_to_level(DEFAULT_VELOCITY)}
    for a, b in zip(soft_pixels[..., 0], struck[..., 0], strict=True):  # the same notes
        assert np.array_equal(roll_to_notes(a)[:, :3], roll_to_notes(b)[:, :3])


def test_the_default_generator_draws_only_the_piano_keys():
    models = build_dcgan(TINY)
    rolls = generate_rolls(models.generator, np.random.default_rng(0).standard_normal((4, 14)).astype(np.float32))
    assert rolls.shape == (4, *IMAGE_SHAPE)
    assert not rolls[:, :pitch_to_row(108)].any()  # the 18 rows above C8 stay silent


def test_struck_heads_begin_every_note_with_an_onset_and_keep_the_notes():
    sustain, silence = pixels_to_tanh(float(SUSTAIN_LEVEL)), -1.0
    roll = np.full(IMAGE_SHAPE, silence, np.float32)
    roll[50, 0:6] = sustain  # held over from before the window: stays a sustain
    roll[60, 10:14] = sustain  # bare runs of sustain, as generators drew most notes
    roll[60, 16:18] = sustain
    roll[70, 20] = 1.0  # struck already: unchanged
    roll[70, 21:25] = sustain
    wobble = np.random.default_rng(0).uniform(-0.05, 0.05, (1, *IMAGE_SHAPE, 1)).astype(np.float32)
    soft = roll[None, ..., None] + wobble  # a generator's output is never exactly on the levels
    plain = tanh_to_pixels(keras.ops.convert_to_numpy(SnapToLevels()(soft)))[0, ..., 0]
    struck = tanh_to_pixels(keras.ops.convert_to_numpy(SnapToLevels(strike_heads=True)(soft)))[0, ..., 0]
    assert np.array_equal(np.argwhere(struck != plain), [[60, 10], [60, 16]])
    assert struck[60, 10] == struck[60, 16] == ONSET_LEVEL and struck[50, 0] == SUSTAIN_LEVEL
    # the decoder hears the same notes (pitch, start, end); struck heads get the onset's velocity, not the default
    assert np.array_equal(roll_to_notes(struck)[:, :3], roll_to_notes(plain)[:, :3])


def test_a_soft_restrike_sustains_and_a_played_one_strikes_again():
    sustain, silence = pixels_to_tanh(float(SUSTAIN_LEVEL)), -1.0
    soft_onset, played = (pixels_to_tanh(float(velocity_to_level(v))) for v in (10, 40))
    roll = np.full(IMAGE_SHAPE, silence, np.float32)
    roll[50, 0] = soft_onset  # column 0: nothing sounds before it
    roll[60, 10:16] = [played, sustain, soft_onset, sustain, played, sustain]
    roll[70, 20:22] = [silence, soft_onset]  # after silence: a new note at any velocity
    snapped = tanh_to_pixels(keras.ops.convert_to_numpy(
        SnapToLevels(velocity=True, restrike_velocity=30)(roll[None, ..., None])))[0, ..., 0]
    assert snapped[60, 12] == SUSTAIN_LEVEL  # held, not struck again
    assert snapped[60, 14] == velocity_to_level(40) and snapped[50, 0] == snapped[70, 21] == velocity_to_level(10)
    notes = roll_to_notes(snapped)
    assert [tuple(n[1:3]) for n in notes[notes[:, 0] == row_to_pitch(60)]] == [(10, 14), (14, 16)]


def test_mode_seeking_charges_only_rolls_less_varied_than_real_music():
    latent = np.random.default_rng(0).standard_normal((8, 14)).astype(np.float32)
    same = np.zeros((8, *IMAGE_SHAPE, 1), np.float32)
    assert float(keras.ops.convert_to_numpy(mode_seeking_loss(latent, same, 2.0))) == pytest.approx(2.0)
    varied = np.random.default_rng(1).choice([-1.0, 1.0], (8, *IMAGE_SHAPE, 1)).astype(np.float32)
    # pixels differ by 1 on average, far more than real rolls' 0.107: no charge
    assert float(keras.ops.convert_to_numpy(mode_seeking_loss(latent, varied, 2.0))) == 0.0


def test_key_matching_holds_the_batch_in_key_as_a_pianist_plays():
    roll = np.zeros(IMAGE_SHAPE, np.float32)
    for start, pitch in enumerate((60, 62, 64, 65, 67, 69, 71, 66)):  # C major's seven notes and F#, 4 steps each
        row = pitch_to_row(pitch)
        roll[row, 8 * start:8 * start + 4] = SUSTAIN_LEVEL
        roll[row, 8 * start] = ONSET_LEVEL
    in_key = pixels_to_tanh(roll)[None, ..., None]
    share = float(keras.ops.convert_to_numpy(in_key_share(in_key))[0])
    # Notes of one length, one at a time: the share is the statistic `evaluate` checks (7 of 8 notes)
    assert share == pytest.approx(roll_statistics(roll)[STATISTICS.index("scale_consistency")]) == pytest.approx(7 / 8)
    assert float(keras.ops.convert_to_numpy(key_matching_loss(in_key, in_key, 10.0))) == pytest.approx(0.0)
    chromatic = np.zeros(IMAGE_SHAPE, np.float32)
    for start, pitch in enumerate(range(60, 72)):  # all twelve: 7 of 12 in any scale
        chromatic[pitch_to_row(pitch), 8 * start:8 * start + 4] = ONSET_LEVEL
    loss = key_matching_loss(in_key, pixels_to_tanh(chromatic)[None, ..., None], 10.0)
    assert float(keras.ops.convert_to_numpy(loss)) == pytest.approx(10.0 * (7 / 8 - 7 / 12), abs=1e-5)


def test_harmony_matching_charges_the_gap_in_intervals_sounding_together():
    triad, cluster = np.zeros(IMAGE_SHAPE, np.float32), np.zeros(IMAGE_SHAPE, np.float32)
    for roll, pitches in ((triad, (60, 64, 67)), (cluster, (60, 61, 62))):  # C-E-G; C-C#-D
        for pitch in pitches:
            roll[pitch_to_row(pitch), :8] = ONSET_LEVEL
    triad, cluster = (pixels_to_tanh(r)[None, ..., None] for r in (triad, cluster))
    assert float(keras.ops.convert_to_numpy(harmony_matching_loss(triad, triad, 5.0))) == pytest.approx(0.0)
    # triad: a minor third, a major third, a fourth; cluster: two semitones, a tone. Interval shares differ by
    # 1/3 on all 6 classes; pitch-class shares by 1/3 on E, G, C# and D.
    loss = float(keras.ops.convert_to_numpy(harmony_matching_loss(triad, cluster, 5.0)))
    assert loss == pytest.approx(5.0 * (6 + 4) / 3, abs=1e-5)


def test_rhythm_matching_counts_onsets_and_note_lengths():
    roll = np.zeros(IMAGE_SHAPE, np.float32)
    for pitch, start in ((60, 0), (64, 0), (67, 10)):  # three notes of 4 steps, two of them together
        roll[pitch_to_row(pitch), start:start + 4] = SUSTAIN_LEVEL
        roll[pitch_to_row(pitch), start] = ONSET_LEVEL
    rolls = pixels_to_tanh(roll)[None, ..., None]
    onset_share, step_share, per_step, block_sd, one_step = keras.ops.convert_to_numpy(rhythm_statistics(rolls))[0]
    assert one_step == 0.0
    blocks = np.zeros(300 // 8)
    blocks[:2] = (2, 1)  # steps 0-7 and 8-15
    assert (onset_share, step_share, per_step) == pytest.approx((3 / 12, 2 / 300, 3 / 300 / 4))
    assert block_sd == pytest.approx(blocks.std() / 10, rel=1e-4)
    assert float(keras.ops.convert_to_numpy(rhythm_matching_loss(rolls, rolls, 3.0))) == pytest.approx(0.0)
    fewer = np.where((np.arange(300) == 10)[:, None], -1.0, rolls)  # the third note gone: onsets and blocks differ

    def slope_at(x):
        slope, _ = input_gradients(lambda y: (rhythm_matching_loss(rolls, y, 3), None), keras.ops.convert_to_tensor(x))
        return keras.ops.convert_to_numpy(slope)[0, ..., 0]

    slope = slope_at(fewer)
    assert np.isfinite(slope).all()
    onsets = tanh_to_pixels(fewer[0, ..., 0]) >= ONSET_LEVEL
    after = np.roll(onsets, 1, axis=1)
    # straight through, to the onset pixels and those after them alone
    assert np.all(slope[onsets] != 0) and np.all(slope[~(onsets | after)] == 0)
    short = np.where((np.arange(300) == 1)[:, None], -1.0, rolls)  # C and E one step long: 2 of 3
    assert keras.ops.convert_to_numpy(rhythm_statistics(short))[0, 4] == pytest.approx(2 / 3)
    assert np.all(slope_at(short)[after & ~onsets] < 0)  # raising the silence after them lengthens them
    assert np.isfinite(slope_at(np.full_like(rolls, -1.0))).all()  # no onsets at all: the block sd's slope is finite


def test_melody_statistics_follow_the_top_and_bass_lines_through_their_onsets():
    rolls = np.full((1, *IMAGE_SHAPE, 1), -1.0, np.float32)
    for i, (top, bass) in enumerate([(60, 36), (62, 36), (64, 43), (79, 36)]):  # moves 2, 2, 15 over 0, 7, 7
        rolls[0, pitch_to_row(top), 4 * i] = rolls[0, pitch_to_row(bass), 4 * i] = 1.0
        rolls[0, pitch_to_row(top), 4 * i + 1:4 * i + 3] = 0.0  # held: not onsets
    rolls[0, pitch_to_row(50), 5] = 1.0  # a note between the lines on a step of its own joins both
    x = keras.ops.convert_to_tensor(rolls)
    # top 60 62 50 64 79: moves 2, 12, 14, 15; bass 36 36 50 43 36: moves 0, 14, 7, 7
    assert keras.ops.convert_to_numpy(melody_statistics(x))[0] == pytest.approx([0.25, 0.75, 0.25, 0.25])
    slope, _ = input_gradients(lambda r: (keras.ops.sum(melody_statistics(r)[:, 0]), None), x)
    slope = np.abs(keras.ops.convert_to_numpy(slope))[0, ..., 0]
    assert slope[pitch_to_row(62), 0] == 0 and slope[pitch_to_row(64), 9] == 0  # held pixels: none
    assert slope[pitch_to_row(60), 0] > 0 and slope.sum() == pytest.approx(slope[rolls[0, ..., 0] == 1.0].sum())


def test_voicing_statistics_tell_a_band_of_neighbouring_keys_from_octaves():
    rolls = np.full((2, *IMAGE_SHAPE, 1), -1.0, np.float32)
    rolls[0, [pitch_to_row(p) for p in (60, 61, 62)], :10] = 0.0  # a held cluster C C# D
    rolls[1, [pitch_to_row(p) for p in (48, 60, 72)], :10] = 0.0  # C in three octaves
    voicing = keras.ops.convert_to_numpy(voicing_statistics(keras.ops.convert_to_tensor(rolls)))
    np.testing.assert_allclose(voicing, [[4 / 3, 2 / 3, 0.0], [0.0, 0.0, 4 / 3]], rtol=0.01)  # sustain sounds at 0.996


def test_length_statistics_count_notes_by_how_long_they_hold():
    rolls = np.full((1, *IMAGE_SHAPE, 1), -1.0, np.float32)
    for i, length in enumerate((1, 2, 4, 8, 40)):
        rolls[0, pitch_to_row(48 + i), 10:10 + length] = 0.0
        rolls[0, pitch_to_row(48 + i), 10] = 1.0
    rolls[0, pitch_to_row(48), 11] = 1.0  # struck again at once: two notes of one step
    x = keras.ops.convert_to_tensor(rolls)
    # six notes, lasting 1, 1, 2, 4, 8 and 40 steps; at least 2, 3, 5, 9, 17, 33 of them:
    np.testing.assert_allclose(keras.ops.convert_to_numpy(length_statistics(x))[0], [4, 3, 2, 1, 1, 1] / np.float32(6))
    slope, _ = input_gradients(lambda r: (keras.ops.sum(length_statistics(r)), None), x)
    slope = keras.ops.convert_to_numpy(slope)[0, ..., 0]
    assert slope[pitch_to_row(49), 12] > 0  # the silence after the two-step note: raising it lengthens the note
    assert slope[pitch_to_row(48), 11] < 0  # the second onset: falling to sustain joins the two notes


def test_distribution_matching_sees_how_the_rolls_differ_not_only_their_mean():
    real = np.full((4, *IMAGE_SHAPE, 1), -1.0, np.float32)
    real[:2, pitch_to_row(40)] = real[2:, pitch_to_row(52)] = 0.0  # held Es: two rolls low, two an octave up
    both = np.full_like(real, -1.0)
    both[:, [pitch_to_row(40), pitch_to_row(52)]] = 0.0  # every roll both: the same means, no roll alike

    def loss(term, a, b):
        return float(keras.ops.convert_to_numpy(term(a, b, 1.0)))

    assert loss(harmony_matching_loss, real, both) == pytest.approx(0.0, abs=1e-6)
    def profiles_loss(a, b, weight):
        return distribution_matching_loss(roll_profile(a), roll_profile(b), weight)

    assert loss(profiles_loss, real, real[::-1]) == pytest.approx(0.0, abs=1e-6)
    assert loss(profiles_loss, real, both) > 0.1


def test_distribution_matching_by_class_matches_each_class_to_its_own_real_rolls():
    real = np.full((4, *IMAGE_SHAPE, 1), -1.0, np.float32)
    real[:2, pitch_to_row(40)] = real[2:, pitch_to_row(76)] = 0.0  # class 0 low, class 1 high
    classes = np.array([[0.0], [0.0], [1.0], [1.0]], np.float32)
    swapped = real[::-1]  # the same rolls, each asked for the other class

    def loss(fake, by_class):
        return float(keras.ops.convert_to_numpy(distribution_matching_loss(roll_profile(real), roll_profile(fake),
                                                                           1.0, by_class)))

    assert loss(swapped, None) == pytest.approx(0.0, abs=1e-6)
    assert loss(real, classes) == pytest.approx(0.0, abs=1e-6)
    assert loss(swapped, classes) > 0.1


def test_marginal_matching_weighs_each_feature_in_its_own_spread():
    real = np.full((4, *IMAGE_SHAPE, 1), -1.0, np.float32)
    for i, length in enumerate((2, 4, 8, 16)):  # E held for different lengths: rhythm varies, pitch does not
        real[i, pitch_to_row(52), :length] = 0.0
        real[i, pitch_to_row(52), 0] = 1.0

    def loss(fake):
        return float(keras.ops.convert_to_numpy(marginal_matching_loss(roll_profile(real), roll_profile(fake), 1.0)))

    assert loss(real[::-1]) == pytest.approx(0.0, abs=1e-6)  # the same rolls in another order
    fifth = real.copy()
    fifth[:, pitch_to_row(59)] = real[:, pitch_to_row(52)]  # a B with every E: a new interval, same rhythm
    assert loss(fifth) > 0.1
    slope, _ = input_gradients(lambda r: (marginal_matching_loss(roll_profile(real), roll_profile(r), 1.0), None),
                               keras.ops.convert_to_tensor(fifth))
    assert np.isfinite(keras.ops.convert_to_numpy(slope)).all()


def test_a_run_with_every_matching_term_trains(tmp_path):
    images = write_rolls(tmp_path / "imgs", 16)
    train(images, tmp_path / "run", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0,
          key_matching=10.0, harmony_matching=5.0, rhythm_matching=3.0,
          distribution_matching=10.0, marginal_matching=5.0)
    saved = TrainConfig.load(tmp_path / "run" / "config.json")
    matching = (saved.key_matching, saved.harmony_matching, saved.rhythm_matching, saved.distribution_matching,
                saved.marginal_matching)
    assert matching == (10.0, 5.0, 3.0, 10.0, 5.0)
    assert logged_steps(tmp_path / "run")[-1] == 2
    with pytest.raises(SystemExit, match="class by class"):
        train(images, tmp_path / "plain", preset="tiny", max_steps=2, distribution_matching=10.0,
              matching_by_class=True)
    train(images, tmp_path / "textured", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0,
          textures=True, distribution_matching=10.0, matching_by_class=True, style_classifier=1.0,
          style_classifier_fakes=False)
    assert logged_steps(tmp_path / "textured")[-1] == 2


def test_roll_summary_reads_key_register_and_density():
    roll = np.zeros(IMAGE_SHAPE, np.float32)
    for pitch in (60, 64):  # C4 and E4, four steps each: one onset, three sustain
        row = pitch_to_row(pitch)
        roll[row, 10:14] = SUSTAIN_LEVEL
        roll[row, 10] = ONSET_LEVEL
    rolls = pixels_to_tanh(np.stack([roll, np.zeros(IMAGE_SHAPE, np.float32)]))[..., None]
    summary = keras.ops.convert_to_numpy(RollSummary()(rolls))
    assert summary.shape == (2, 32)
    classes, bands, density, onset_share = summary[:, :12], summary[:, 12:30], summary[:, 30], summary[:, 31]
    # Shares of the 8 sounding pixels, scaled so that an even spread would give 1 each.
    np.testing.assert_allclose(classes[0], np.eye(12)[0] * 6 + np.eye(12)[4] * 6, atol=1e-5)
    np.testing.assert_allclose(bands[0], np.eye(18)[(60 - 21) // 6] * 9 + np.eye(18)[(64 - 21) // 6] * 9, atol=1e-5)
    assert density[0] == pytest.approx(10 * 8 / (106 * 300)) and onset_share[0] == pytest.approx(2 * 2 / 8)
    np.testing.assert_allclose(summary[1], 0.0, atol=1e-6)  # an empty roll: nothing, and no division by zero


def test_the_summary_view_trains_with_the_discriminator():
    models = build_dcgan(TINY)  # the summary view is on by default
    kernel = next(w for w in models.discriminator.trainable_weights if tuple(w.shape) == (32, 64))  # summary in
    before = keras.ops.convert_to_numpy(kernel)
    one_step(models, TINY)
    assert not np.array_equal(before, keras.ops.convert_to_numpy(kernel))


def test_the_harmony_view_reads_which_intervals_sound_together_as_the_two_sample_test_does(tmp_path):
    roll = np.zeros(IMAGE_SHAPE, np.float32)
    for pitch, start in ((60, 0), (61, 0), (64, 0), (67, 20)):  # C, C#, E together (a clash, a third), G alone
        row = pitch_to_row(pitch)
        roll[row, start:start + 8] = SUSTAIN_LEVEL
        roll[row, start] = ONSET_LEVEL
    view = keras.ops.convert_to_numpy(HarmonyView()(pixels_to_tanh(roll)[None, ..., None]))[0] / 4
    np.testing.assert_allclose(view, twosample._interval_classes(roll), atol=1e-6)
    np.testing.assert_allclose(view, [1 / 3, 0, 1 / 3, 1 / 3, 0, 0], atol=1e-6)  # C-C#, C#-E, C-E; G sounds alone
    _, _, old, new = warm_started(tmp_path, harmony_view=True)  # D's verdict unchanged at first
    rolls = np.random.default_rng(0).uniform(-1, 1, (4, *IMAGE_SHAPE, 1)).astype(np.float32)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(new.discriminator(rolls)),
                               keras.ops.convert_to_numpy(old.discriminator(rolls)), rtol=1e-5, atol=1e-6)


def test_the_beat_view_reads_harmony_register_and_loudness_beat_by_beat():
    rolls = -np.ones((1, *IMAGE_SHAPE, 1), np.float32)
    row = pitch_to_row(64)
    rolls[0, row, 8:12, 0] = 1.0  # E4 struck at the loudest in beat 2, held through it
    rolls[0, row, 9:12, 0] = SnapToLevels.SUSTAIN
    view = keras.ops.convert_to_numpy(BeatView()(rolls))
    assert view.shape == (1, 75, 12 + 18 + 18)
    assert np.abs(view[0, np.arange(75) != 2]).max() < 1e-6  # nothing outside beat 2
    classes, bands, onsets = view[0, 2, :12], view[0, 2, 12:30], view[0, 2, 30:]
    assert np.argmax(classes) == 4 and classes[4] == pytest.approx(1.0)  # one key sounding, all 4 steps
    assert np.argmax(bands) == (64 - 21) // 6 and np.argmax(onsets) == (64 - 21) // 6
    assert bands.max() == pytest.approx(1.0) and onsets.max() == pytest.approx(0.25)  # struck in 1 of 4 steps


def test_the_profile_view_trains_and_joins_a_style_conditioned_critic_without_changing_its_verdict(tmp_path):
    """A critic over roll_profile, the profile the matching terms fit: it learns with D, and a warm start that
    adds it to a style-conditioned D (whose projection then reads more features) first judges as before."""
    rolls = np.random.default_rng(0).uniform(-1, 1, (4, *IMAGE_SHAPE, 1)).astype(np.float32)
    profile = keras.ops.convert_to_numpy(roll_profile(rolls))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ProfileView()(rolls)), profile)
    with_grid = keras.ops.convert_to_numpy(ProfileView(grid=True)(rolls))
    np.testing.assert_array_equal(with_grid[:, :profile.shape[1]], profile)  # the grid after: a warm start adds it
    grid = keras.ops.convert_to_numpy(grid_and_thickness(rolls))
    np.testing.assert_array_equal(with_grid[:, profile.shape[1]:], grid)
    config = TINY.replace(profile_view=True)
    models = build_dcgan(config)
    view_in = (profile.shape[1], PROFILE_UNITS)
    first = next(w for w in models.discriminator.trainable_weights if tuple(w.shape) == view_in)
    before = keras.ops.convert_to_numpy(first)
    one_step(models, config)
    assert not np.array_equal(before, keras.ops.convert_to_numpy(first))

    images = write_rolls(tmp_path / "train", 16)
    write_style_index(images, [(f"piece{i}", "Frédéric Chopin") for i in range(16)])
    train(images, tmp_path / "old", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0, styles=True)
    saved = checkpoint.list_checkpoints(tmp_path / "old" / "checkpoints")[-1]
    styled = TrainConfig.load(tmp_path / "old" / "config.json")
    old, new = build_dcgan(styled), build_dcgan(styled.replace(profile_view=True))
    checkpoint.restore(saved, old)
    checkpoint.warm_start(saved, new)
    styles = np.eye(len(styled.styles), dtype=np.float32)[:4]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(new.discriminator([rolls, styles])),
                               keras.ops.convert_to_numpy(old.discriminator([rolls, styles])), rtol=1e-5, atol=1e-6)
    with pytest.raises(SystemExit, match="set profile_view=true too"):
        train(images, tmp_path / "grid", preset="tiny", max_steps=2, grid_view=True)
    with pytest.raises(SystemExit, match="set summary_view=true too"):
        train(images, tmp_path / "harmony", preset="tiny", max_steps=2, harmony_view=True, summary_view=False)


def test_grid_and_thickness_see_onsets_kept_to_a_grid_wherever_it_starts_and_the_thickest_step():
    roll = np.zeros(IMAGE_SHAPE, np.float32)
    roll[pitch_to_row(60), 0:300:4] = ONSET_LEVEL  # a beat of 4 steps: on the 4-step grid, even on 8 and 16
    for pitch in range(40, 60):  # 20 keys held for 2 steps
        roll[pitch_to_row(pitch), 101:103] = SUSTAIN_LEVEL
    shifted = np.roll(roll, 3, axis=1)  # the same music 3 steps later
    values = keras.ops.convert_to_numpy(grid_and_thickness(pixels_to_tanh(np.stack([roll, shifted]))[..., None]))
    grid, peak, excess = values[:, :3], values[:, 3], values[:, 4]
    np.testing.assert_allclose(grid[:, 0], 1.0, atol=1e-4)
    assert np.all(grid[:, 1:] < 0.02)  # beats 0, 4, 8, 12 of 16 cancel out
    np.testing.assert_allclose(peak, 20 / 30, atol=1e-6)
    np.testing.assert_allclose(excess, (20 - 12) * 2 / 300 / 4, atol=1e-6)


def warm_started(tmp_path: Path, **changes: object) -> tuple[Path, Path, object, object]:
    """(images, checkpoint, its models, new models with `changes` warm-started from it) after a 2-step tiny run."""
    images = write_rolls(tmp_path / "train", 16)
    train(images, tmp_path / "old", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0)
    saved = checkpoint.list_checkpoints(tmp_path / "old" / "checkpoints")[-1]
    config = TrainConfig.load(tmp_path / "old" / "config.json")
    old, new = build_dcgan(config), build_dcgan(config.replace(**changes))
    checkpoint.restore(saved, old)
    checkpoint.warm_start(saved, new)
    return images, saved, old, new


def test_a_warm_start_keeps_the_generator_and_the_critics_verdict_when_d_gains_a_view(tmp_path):
    """A run that adds the beat view to a trained D starts where that D was: the new view weighs nothing yet."""
    images, saved, old, new = warm_started(tmp_path, beat_view=True)
    z = np.random.default_rng(0).standard_normal((4, TINY.latent_dim)).astype("float32")
    rolls = keras.ops.convert_to_numpy(old.average(z))
    np.testing.assert_array_equal(rolls, keras.ops.convert_to_numpy(new.average(z)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(new.discriminator(rolls)),
                               keras.ops.convert_to_numpy(old.discriminator(rolls)), rtol=1e-5, atol=1e-6)
    with pytest.raises(SystemExit, match=r"latent_dense has shape \(14, .*\) there and \(3, .*\) here"):
        checkpoint.warm_start(saved, build_dcgan(TINY.replace(latent_dim=3)))
    train(images, tmp_path / "new", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0,
          init_from=saved, beat_view=True)  # the command line's --init-from
    assert TrainConfig.load(tmp_path / "new" / "config.json").beat_view and logged_steps(tmp_path / "new") == [2]


def test_a_run_starts_from_a_shipped_generator_file_with_a_fresh_critic(tmp_path):
    """--init-from pretrained/generator.keras: G and its average are the file's, D is new (a file holds none)."""
    images, saved, old, _ = warm_started(tmp_path)
    config = TrainConfig.load(tmp_path / "old" / "config.json")
    new = build_dcgan(config)
    fresh_critic = [w.copy() for w in new.discriminator.get_weights()]
    checkpoint.warm_start(saved / "generator.keras", new)
    z = np.random.default_rng(0).standard_normal((4, TINY.latent_dim)).astype("float32")
    shipped = checkpoint.load_generator(saved / "generator.keras")
    for model in (new.generator, new.average):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(model(z)), keras.ops.convert_to_numpy(shipped(z)),
                                   atol=1e-6)
    for kept, before in zip(new.discriminator.get_weights(), fresh_critic, strict=True):
        np.testing.assert_array_equal(kept, before)
    with pytest.raises(SystemExit, match=r"latent_dense has shape \(14, .*\) there and \(3, .*\) here"):
        checkpoint.warm_start(saved / "generator.keras", build_dcgan(config.replace(latent_dim=3)))


def test_a_wider_generator_starts_as_the_trained_one_widened_and_its_copies_can_grow_apart(tmp_path):
    """--set generator_channels=[2x] with --init-from: the same rolls at first (Net2WiderNet), copies split apart."""
    wider = tuple(2 * channels for channels in TINY.generator_channels)
    images, saved, old, new = warm_started(tmp_path, generator_channels=wider)
    z = np.random.default_rng(0).standard_normal((4, TINY.latent_dim)).astype("float32")
    for before, after in ((old.generator, new.generator), (old.average, new.average)):
        np.testing.assert_allclose(keras.ops.convert_to_numpy(after(z)), keras.ops.convert_to_numpy(before(z)),
                                   atol=1e-5)
    first = [next(layer for layer in model.generator.layers if isinstance(layer, DoubledConv2D)).get_weights()[0]
             for model in (old, new)]
    inputs, outputs = first[0].shape[2:]  # each input channel's two copies share its weights at random
    copies = first[1][:, :, :inputs, :outputs], first[1][:, :, inputs:, :outputs]
    assert not np.allclose(*copies)
    np.testing.assert_allclose(copies[0] + copies[1], first[0], rtol=1e-5, atol=1e-7)
    with pytest.raises(SystemExit, match="doubled_conv2d.* has shape"):  # not a whole multiple of each layer
        checkpoint.warm_start(saved, build_dcgan(TINY.replace(generator_channels=(*wider[:-1], wider[-1] + 1))))
    wider_critic = tuple(2 * channels for channels in TINY.discriminator_channels)
    with pytest.raises(SystemExit, match="trunk_conv_0.* has shape"):  # D is never widened
        checkpoint.warm_start(saved, build_dcgan(TINY.replace(discriminator_channels=wider_critic)))


def test_a_closed_gate_silences_its_beat_and_key_and_an_open_one_keeps_the_roll():
    roll = np.random.default_rng(0).uniform(-1, 1, (1, 88, 300, 1)).astype("float32")
    beats, keys = np.ones((1, 75), np.float32), np.ones((1, 88), np.float32)
    beats[0, 3], keys[0, 10] = 0.0, 0.0
    gated = keras.ops.convert_to_numpy(GateRoll()([roll, beats, keys]))
    assert (gated[0, :, 12:16] == -1).all() and (gated[0, 10] == -1).all()  # beat 3 is steps 12-15
    keep = np.ones((88, 300), bool)
    keep[:, 12:16], keep[10] = False, False
    np.testing.assert_allclose(gated[0, keep], roll[0, keep], atol=1e-6)


def test_a_closed_chord_gate_silences_its_pitch_class_in_every_octave_for_its_beat():
    roll = np.ones((1, 88, 300, 1), np.float32)
    logits = np.zeros((1, 75, 12), np.float32)  # the head's outputs as it starts: every gate open (0.998)
    logits[0, 5, 0] = -1.0  # no C in beat 5 (steps 20-23)
    gated = keras.ops.convert_to_numpy(ChordGate(ROWS_ABOVE_PIANO)([roll, logits]))[0, :, :, 0]
    c_rows = [pitch_to_row(pitch) - ROWS_ABOVE_PIANO for pitch in range(24, 109, 12)]  # C1..C8
    silenced = np.zeros((88, 300), bool)
    silenced[np.ix_(c_rows, range(20, 24))] = True
    np.testing.assert_allclose(gated[silenced], -1.0, atol=1e-5)
    np.testing.assert_allclose(gated[~silenced], 1.0, atol=0.01)


def test_gates_warm_start_nearly_open_on_a_trained_generator_and_save_with_it(tmp_path):
    """A run that adds gates to a trained G starts from its trunk, the gates at sigmoid(3) = 0.95."""
    _, _, old, new = warm_started(tmp_path, global_gates=True)
    z = np.random.default_rng(0).standard_normal((4, TINY.latent_dim)).astype("float32")
    before, after = (keras.ops.convert_to_numpy(m.average(z)) for m in (old, new))
    assert np.mean(np.abs(before - after)) < 0.1 and ((after > -1) <= (before > -1)).all()  # only ever quieter
    with_chords = build_dcgan(TrainConfig.load(tmp_path / "old" / "config.json").replace(global_gates=True,
                                                                                        chord_gates=True))
    checkpoint.warm_start(checkpoint.list_checkpoints(tmp_path / "old" / "checkpoints")[-1], with_chords)
    chorded = keras.ops.convert_to_numpy(with_chords.average(z))
    assert np.mean(np.abs(after - chorded)) < 0.02 and ((chorded > -1) <= (after > -1)).all()  # chord gates: 0.998
    new.average.save(tmp_path / "g.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.saving.load_model(tmp_path / "g.keras")(z)), after)
    with pytest.raises(SystemExit, match="gate_.*, which this run would drop"):
        checkpoint.warm_start(tmp_path / "g.keras", old)  # a run without gates would draw otherwise


def test_a_bar_sequence_warm_starts_silent_then_moves_the_bars_apart(tmp_path):
    """A run that adds the recurrent bar sequence to a trained G draws what it drew; trained, the bars depend on it."""
    images, saved, old, new = warm_started(tmp_path, bar_sequence=True)
    z = np.random.default_rng(0).standard_normal((4, TINY.latent_dim)).astype("float32")

    def rolls(generator):
        return keras.ops.convert_to_numpy(generator(z))

    np.testing.assert_array_equal(rolls(old.average), rolls(new.average))
    project = new.average.get_layer("time_project")
    project.set_weights([np.ones_like(w) for w in project.get_weights()])
    assert not np.array_equal(rolls(old.average), rolls(new.average))
    new.average.save(tmp_path / "g.keras")
    np.testing.assert_array_equal(rolls(keras.saving.load_model(tmp_path / "g.keras")), rolls(new.average))
    train(images, tmp_path / "new", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0,
          init_from=saved, bar_sequence=True)  # the GRU's seed is no weight to average
    assert logged_steps(tmp_path / "new") == [2]


def test_the_octave_view_warm_starts_silent_and_reaches_octaves_not_neighbours(tmp_path):
    """A run that adds the octave view to a trained G draws what it drew; the view links a key to its octaves."""
    _, _, old, new = warm_started(tmp_path, octave_view=True)
    z = np.random.default_rng(0).standard_normal((4, TINY.latent_dim)).astype("float32")
    np.testing.assert_array_equal(*(keras.ops.convert_to_numpy(m.average(z)) for m in (old, new)))
    pitches = keras.Input((40, 3, 2))
    view = keras.Model(pitches, octave_view(pitches, "float32"))
    conv = view.get_layer("pitch_octaves")
    conv.set_weights([np.ones_like(w) if w.ndim > 1 else w for w in conv.get_weights()])
    key = np.zeros((1, 40, 3, 2), np.float32)
    key[0, 14, 1, 0] = 1.0
    heard = keras.ops.convert_to_numpy(view(key))[0, :, 1, 1]  # the other channel: only what the view adds
    assert np.flatnonzero(heard).tolist() == [2, 14, 26, 38]


def test_the_time_warp_reads_each_roll_at_its_own_steady_rate_off_the_16_step_grid(tmp_path):
    """G's last map read at 0.80-0.95 columns a step from a start the latent sets: the doublings' 16-step
    grid drifts by at least most of a period across the window. Weightless, so it warm-starts, saves and trains."""
    images, saved, _, new = warm_started(tmp_path, time_warp=True)
    width, latents = 304, np.random.default_rng(0).standard_normal((64, TINY.latent_dim)).astype("float32")
    columns = np.broadcast_to(np.arange(width, dtype="float32")[None, None, :, None], (64, 2, width, 1))
    read = keras.ops.convert_to_numpy(TimeWarp()([columns, latents]))[:, 0, :, 0]
    steps = np.diff(read, axis=1)
    rates = steps.mean(axis=1)
    np.testing.assert_allclose(steps, np.repeat(rates[:, None], width - 1, axis=1), atol=1e-3)
    assert rates.min() >= 0.80 - 1e-4 and rates.max() <= 0.95 + 1e-4 and rates.std() > 0.02
    assert read.min() >= 0 and read.max() <= width - 1 and np.ptp(read[:, 0]) > 1  # starts vary too
    assert ((width - 1) * (1 - rates) / 16).min() > 0.9  # periods of the grid it drifts by
    z = latents[:4]
    new.average.save(tmp_path / "g.keras")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(keras.saving.load_model(tmp_path / "g.keras")(z)),
                                  keras.ops.convert_to_numpy(new.average(z)))
    train(images, tmp_path / "new", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0,
          init_from=saved, time_warp=True)
    assert logged_steps(tmp_path / "new") == [2]


def test_a_style_conditioned_run_learns_from_labelled_rolls_and_saves_its_classes(tmp_path):
    """--styles: each roll's class from styles.csv, the small classes drawn often, the classes saved with G."""
    images = write_rolls(tmp_path / "train", 24)
    composers = ["Frédéric Chopin"] * 16 + ["Johann Sebastian Bach"] * 4 + ["Domenico Scarlatti"] * 2 + ["X"] * 2
    write_style_index(images, [(f"piece{i}", composer) for i, composer in enumerate(composers)])
    old = tmp_path / "old"
    train(images, old, preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0)
    run = tmp_path / "styled"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0, styles=True,
          init_from=checkpoint.list_checkpoints(old / "checkpoints")[-1])
    config = TrainConfig.load(run / "config.json")
    assert config.styles == STYLE_CLASSES
    shares = dict(zip(config.styles, config.style_shares, strict=True))
    assert shares["chopin"] == pytest.approx(16 / 22) and shares["other-baroque"] == pytest.approx(2 / 22)
    stream = labelled_stream(list_images(images), images, config)  # the two rolls of no known era are left out
    assert len(stream.paths) == 22
    drawn = np.concatenate([stream.load_batch(i)[1].argmax(axis=1) for i in range(50)])
    seen = np.bincount(drawn, minlength=len(STYLE_CLASSES)) / len(drawn)
    index = STYLE_CLASSES.index
    assert seen[index("other-baroque")] > 2 / 22 and seen[index("chopin")] < 16 / 22  # evened out, not equal
    generator = checkpoint.load_generator(run)
    assert style_input(generator).names == STYLE_CLASSES
    z = np.zeros((2, TINY.latent_dim), np.float32)
    chopin, bach = (np.eye(len(STYLE_CLASSES), dtype=np.float32)[[index(name)] * 2] for name in ("chopin", "bach"))
    assert generate_rolls(generator, z, chopin).shape == (2, *IMAGE_SHAPE)
    assert generate_rolls(generator, z).shape == (2, *IMAGE_SHAPE)  # without styles: the average style
    assert not np.array_equal(generator.predict_on_batch([z, chopin]), generator.predict_on_batch([z, bach]))


def test_runs_saved_before_a_setting_existed_load_without_it(tmp_path):
    saved = dataclasses.asdict(TINY)
    added = ("snap_output", "strike_heads", "summary_view", "mode_seeking", "onset_velocity", "piano_rows_only",
             "mixed_precision")
    for name in (*added, "global_gates", "bar_sequence", "styles", "style_shares", "style_dim"):  # default off
        del saved[name]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    old = TrainConfig.load(tmp_path / "config.json")
    assert [getattr(old, name) for name in added] == [False, False, False, 0.0, False, False, False]
    assert not old.global_gates and old.styles == () and old.style_shares == ()
    assert [getattr(TINY, name) for name in added] == [True, True, True, 1.0, True, True, True]
    baseline = TrainConfig.from_preset("seed2023")
    assert (baseline.snap_output, baseline.strike_heads, baseline.summary_view,
            baseline.mode_seeking) == (False, False, False, 0.0)


def test_the_best_validation_checkpoint_is_kept(tmp_path):
    images = write_rolls(tmp_path / "train", 16)
    write_rolls(tmp_path / "validation", 8, seed=1)  # found beside the training folder
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=4, checkpoint_every=2, validation_rolls=8)
    with open(run / "log.csv", newline="") as handle:
        scores = [float(row["validation_accuracy"]) for row in csv.DictReader(handle)]
    assert len(scores) == 2 and all(0 <= score <= 1 for score in scores)
    best = json.loads((run / "best" / "best.json").read_text())
    assert best["validation_accuracy"] == pytest.approx(min(scores), abs=1e-3)
    assert best["checkpoint"] == f"step_{2 * (1 + int(np.argmin(scores))):08d}"
    assert (run / "best" / "generator.keras").is_file()


def test_set_overrides_any_setting_and_refuses_unknown_names():
    from model.config import parse_settings

    assert parse_settings(["input_noise=0", "optimizer=rmsprop", "generator_channels=[8, 4, 4, 2]",
                           "spectral_norm=false"]) == {"input_noise": 0, "optimizer": "rmsprop",
                                                       "generator_channels": (8, 4, 4, 2), "spectral_norm": False}
    with pytest.raises(SystemExit, match="no_such_thing"):
        parse_settings(["no_such_thing=1"])
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        parse_settings(["input_noise"])


def test_mixed_bfloat16_is_used_only_where_it_is_fast_unless_asked_for_by_name(monkeypatch, capsys):
    """On a CPU without native bfloat16 it is emulated, several times slower than float32."""
    from model import train as training

    monkeypatch.setattr(training, "fast_bfloat16", lambda: False)
    assert TINY.mixed_precision and not training.built_settings(TINY, {}).mixed_precision
    assert "no native bfloat16" in capsys.readouterr().out
    assert training.built_settings(TINY, {"mixed_precision": True}).mixed_precision
    monkeypatch.setattr(training, "fast_bfloat16", lambda: True)
    assert training.built_settings(TINY, {}).mixed_precision
