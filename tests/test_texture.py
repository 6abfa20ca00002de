"""Texture classes: each window's density, pitch span and loudness in thirds, learned and asked for by words."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import STEP, write_midi
from test_model import write_rolls

import pipeline
from midi2img.spec import IMAGE_SHAPE, SUSTAIN_LEVEL, pitch_to_row, velocity_to_level
from midi2img.styles import write_style_index
from model import checkpoint, primer, texture
from model.config import TrainConfig
from model.dcgan import build_dcgan
from model.generate import generate_rolls, latents
from model.style import style_plan
from model.train import train


def roll_with(notes: list[tuple[int, int, int, int]]) -> np.ndarray:
    """A uint8 roll holding (pitch, start, steps, velocity) notes."""
    roll = np.zeros(IMAGE_SHAPE, np.uint8)
    for pitch, start, steps, velocity in notes:
        row = pitch_to_row(pitch)
        roll[row, start:start + steps] = SUSTAIN_LEVEL
        roll[row, start] = velocity_to_level(velocity)
    return roll


def test_a_window_is_measured_by_its_density_span_and_loudness_and_cut_in_thirds():
    density, span, loudness = texture.measure(roll_with([(48, 0, 30, 40), (60, 10, 30, 80), (72, 20, 30, 120)]))
    assert density == pytest.approx(90 / (88 * 300)) and span == 24 and loudness == pytest.approx(80, abs=1)
    assert tuple(texture.measure(np.zeros(IMAGE_SHAPE, np.uint8))[:2]) == (0, 0)  # silence: no span, no error
    measures = np.array([[d, d, d] for d in range(9)], float)
    assert texture.thirds(measures, texture.cuts(measures))[:, 0].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert texture.describe("texture-d0-r2-v1") == "sparse+wide+medium"
    assert texture.matches(texture.describe("texture-d0-r2-v1"), "texture-d0-r2-v1")
    assert texture.matches("sparse+medium", "texture-d0-r2-v1") and not texture.matches("busy", "texture-d0-r2-v1")
    assert not texture.matches("jazz", "texture-d0-r2-v1")
    # Compared class by class, neighbouring textures lie one third apart; other classes one apart each.
    assert texture.class_coordinates(("texture-d0-r2-v1", "texture-d1-r2-v1")).tolist() == [[0, 2, 1], [1, 2, 1]]
    assert texture.class_coordinates(("baroque", "modern")).tolist() == [[1, 0], [0, 1]]


@pytest.fixture(scope="module")
def textured(tmp_path_factory) -> Path:
    """A tiny generator trained two steps on the texture classes of its own 27 rolls."""
    images = write_rolls(tmp_path_factory.mktemp("textured") / "train", 27)
    run = images.parent / "run"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0, textures=True)
    return run


def test_train_textures_learns_27_classes_and_a_request_by_words_draws_only_those_it_names(textured):
    generator = checkpoint.load_generator(textured)
    names = generator.get_layer("style_weights").names
    assert len(names) == 27 and all(texture.is_texture(name) for name in names)
    drawn = {names[i] for i in style_plan(generator, "sparse+soft", 60, 1, 0.125, seed=1)[:, 0].argmax(axis=1)}
    assert drawn and all(texture.describe(name).startswith("sparse") and name.endswith("v0") for name in drawn)
    with pytest.raises(SystemExit, match="no such style"):
        style_plan(generator, "baroque", 1, 8, 0.125, seed=1)


def test_a_texture_run_keeps_each_eras_mix_of_textures_and_an_era_draws_its_own(tmp_path, capsys):
    """Where the rolls name their eras (styles.csv), `--style baroque` draws the textures Baroque rolls have."""
    images = write_rolls(tmp_path / "train", 27)
    composers = ["Johann Sebastian Bach"] * 9 + ["Frédéric Chopin"] * 9 + ["Wolfgang Amadeus Mozart"] * 5 + [
        "Claude Debussy"] * 4
    write_style_index(images, [(f"piece{i}", composer) for i, composer in enumerate(composers)])
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0, textures=True)
    mixes = np.reshape(TrainConfig.load(run / "config.json").texture_era_mixes, (4, 27))
    np.testing.assert_allclose(mixes.sum(axis=1), 1.0, atol=1e-5)
    generator = checkpoint.load_generator(run)
    drawn = style_plan(generator, "baroque", 40, 1, 0.125, seed=1)[:, 0].argmax(axis=1)
    assert (mixes[0, drawn] > 0).all() and len(set(drawn)) > 1
    assert pipeline.main(["sample", "--model", str(run), "--style"]) == 0
    assert "baroque, classical, romantic, modern" in capsys.readouterr().out


def test_sample_lists_a_texture_generators_words_and_plays_a_schedule_of_them(textured, tmp_path, capsys):
    assert pipeline.main(["sample", "--model", str(textured), "--style"]) == 0
    listing = capsys.readouterr().out
    assert "sparse" in listing and "narrow" in listing and "soft" in listing
    assert "semitones" in listing and "< mid-range <" in listing  # where the words part, from the training cuts
    assert pipeline.main(["sample", "--model", str(textured), "--style", "busy:1,sparse:1", "--duration", "4",
                          "--out", str(tmp_path / "t.mid"), "--no-audio"]) == 0
    assert (tmp_path / "t.mid").stat().st_size > 0


def test_a_primer_is_continued_in_its_own_texture_class_cut_where_training_cut(textured, tmp_path):
    generator = checkpoint.load_generator(textured)
    cuts = np.reshape(generator.get_layer("style_weights").cuts, (2, 3))
    drawn = generate_rolls(generator, latents([5], 4, 14), np.eye(27, dtype=np.float32)[[3, 20, 7, 7]])
    found = texture.classes_of(generator, drawn)
    wanted = texture.class_names(texture.thirds(np.array([texture.measure(r) for r in drawn]), cuts))
    assert [texture.CLASSES[i] for i in found.argmax(axis=1)] == wanted and (found.sum(axis=1) == 1).all()
    first = write_midi(tmp_path / "a.mid", [(60 + i, 2 * i * STEP, (2 * i + 1) * STEP, 90) for i in range(16)])
    last = write_midi(tmp_path / "b.mid", [(40, 0, 32 * STEP, 30)])
    a, b = texture.classes_of(generator, np.stack([primer.read_primer(p, None, None, "t").last_window()
                                                   for p in (first, last)]))
    continued, _ = primer.from_primers(generator, "continue", [first], 2, 0, None, "continue")
    assert (continued.plan(40) == a).all() and continued.plan(40).shape == (2, 40, 27)
    morphed, _ = primer.from_primers(generator, "morph", [first, last], 1, 0, None, "morph")
    plan = morphed.plan(40)[0]
    assert (plan[:20] == a).all() and (plan[20:] == b).all()


def test_a_texture_run_saved_before_it_kept_its_cuts_keeps_them_once_resumed(tmp_path):
    images = write_rolls(tmp_path / "train", 27)
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0, textures=True)
    saved = json.loads((run / "config.json").read_text())
    cuts = saved.pop("texture_cuts")
    (run / "config.json").write_text(json.dumps(saved))
    train(images, run, resume=True, max_steps=3, validation_rolls=0)
    assert json.loads((run / "config.json").read_text())["texture_cuts"] == cuts and len(cuts) == 6
    newest = checkpoint.newest_valid(run / "checkpoints", "test")
    assert checkpoint.load_generator(newest / "generator.keras").get_layer("style_weights").cuts == tuple(cuts)


def test_a_generator_without_texture_classes_has_no_texture_to_keep():
    generator = build_dcgan(TrainConfig.from_preset("tiny")).generator
    assert texture.classes_of(generator, np.zeros((1, *IMAGE_SHAPE), np.uint8)) is None
