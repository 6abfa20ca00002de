"""Style on request: a small style-conditioned generator trained here, asked for eras, composers and schedules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_model import write_rolls

import pipeline
from midi2img.styles import ERAS, STYLE_CLASSES, write_style_index
from model import checkpoint, twosample
from model.config import TrainConfig
from model.dcgan import build_dcgan, build_generator
from model.evaluate import evaluate
from model.sample import sample
from model.style import parse_schedule, style_plan
from model.train import train


@pytest.fixture(scope="module")
def styled(tmp_path_factory) -> Path:
    """A tiny generator trained two steps with styles: Chopin, Bach, Debussy and one Scarlatti roll."""
    folder = tmp_path_factory.mktemp("styled")
    images = write_rolls(folder / "train", 16)
    composers = ["Frédéric Chopin"] * 8 + ["Johann Sebastian Bach"] * 4 + ["Claude Debussy"] * 3 + ["D. Scarlatti"]
    write_style_index(images, [(f"piece{i}", c) for i, c in enumerate(composers)])
    train(images, folder / "run", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0, styles=True)
    return folder / "run"


def test_a_request_draws_its_classes_in_the_training_shares_and_a_schedule_changes_on_time(styled):
    generator = checkpoint.load_generator(styled)
    index = STYLE_CLASSES.index
    eras = style_plan(generator, "baroque", 40, 8, 0.125, seed=1)
    drawn = set(eras[:, 0].argmax(axis=1).tolist())
    assert drawn == {index("bach"), index("other-baroque")}  # Bach four times as often as Scarlatti's class
    assert np.sum(eras[:, 0, index("bach")]) > np.sum(eras[:, 0, index("other-baroque")])
    plan = style_plan(generator, "bach:1,chopin:2", 2, 40, 0.125, seed=1)  # 8 steps of Bach, then Chopin
    assert (plan[:, :8, index("bach")] == 1).all() and (plan[:, 8:, index("chopin")] == 1).all()
    everything = style_plan(generator, None, 200, 1, 0.125, seed=1)[:, 0].sum(axis=0)
    assert everything[index("chopin")] > everything[index("debussy")] > 0  # MAESTRO's proportions, here 8:3
    with pytest.raises(SystemExit, match="no such style"):
        style_plan(generator, "jazz", 1, 8, 0.125, seed=1)
    with pytest.raises(SystemExit, match="give every style of a schedule its seconds"):
        parse_schedule("bach:10,chopin", "sample")


def test_evaluate_draws_each_roll_one_style_in_the_training_shares_as_sample_does(styled, monkeypatch):
    from model import evaluate as evaluate_module

    asked = []
    monkeypatch.setattr(evaluate_module, "generate_rolls", lambda g, z, styles: asked.append(styles) or z[:, :1])
    evaluate_module.generate_in_batches(checkpoint.load_generator(styled), 100, seed=0)
    styles = np.concatenate(asked)
    assert styles.shape == (100, len(STYLE_CLASSES)) and (styles.sum(axis=1) == 1).all() and set(styles.flat) == {0, 1}
    drawn = styles.sum(axis=0)
    assert drawn[STYLE_CLASSES.index("chopin")] > drawn[STYLE_CLASSES.index("debussy")] > 0  # here 8:3


def test_sample_takes_a_style_and_names_it_and_the_same_seed_gives_the_same_bytes(styled, tmp_path, capsys):
    for attempt in ("a", "b"):
        (midi,) = sample(tmp_path / attempt / "x.mid", styled, seed=3, duration=8, audio=False, style="chopin")
        assert "chopin" in capsys.readouterr().out
    assert (tmp_path / "a" / "x.mid").read_bytes() == (tmp_path / "b" / "x.mid").read_bytes()
    sample(tmp_path / "c" / "x.mid", styled, seed=3, duration=8, audio=False, style="bach:4,debussy:4", loop=True)
    assert "bach then debussy" in capsys.readouterr().out


def test_style_alone_lists_the_styles_and_an_unstyled_generator_says_it_takes_none(styled, tmp_path, capsys):
    assert pipeline.main(["sample", "--model", str(styled), "--style"]) == 0
    listing = capsys.readouterr().out
    assert "romantic" in listing and "chopin" in listing and "baroque:30,romantic:60" in listing
    plain = tmp_path / "plain.keras"
    build_generator(TrainConfig.from_preset("tiny")).save(plain)
    with pytest.raises(SystemExit, match="trained without styles"):
        sample(tmp_path / "x.mid", plain, duration=8, audio=False, style="chopin")
    with pytest.raises(SystemExit, match="--out is required"):
        pipeline.main(["sample", "--model", str(styled), "--style", "chopin"])


def test_evaluate_by_style_prints_the_classifiers_ceiling_and_each_era_asked_for(styled, tmp_path):
    test = write_rolls(tmp_path / "test", 12, seed=1)
    write_style_index(test, [(f"piece{i}", "Frédéric Chopin" if i % 2 else "Johann Sebastian Bach") for i in range(12)])
    folder = evaluate(styled, n=8, real=test, reference=test, train_images=styled.parent / "train", name="styled",
                      reports=tmp_path / "reports", cnn=twosample.CnnSettings(filters=(4,), epochs=1), by_style=True)
    section = json.loads((folder / "report.json").read_text())["by_style"]
    assert section["real_rolls"] == 8 and 0 <= section["ceiling"] <= 1  # the 8 test rolls evaluate drew
    assert [score["era"] for score in section["eras"]] == list(ERAS)
    assert all(score["asked"] == 4 and 0 <= score["given"] <= 1 for score in section["eras"])
    assert "## By style" in (folder / "report.md").read_text()


def test_an_auxiliary_style_classifier_trains_beside_the_projection(tmp_path):
    """--set style_classifier=1: D also names each real roll's style (AC-GAN), and the run trains and saves."""
    images = write_rolls(tmp_path / "train", 16)
    write_style_index(images, [(f"piece{i}", "Chopin" if i % 2 else "Bach") for i in range(16)])
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0, styles=True,
          style_classifier=1.0, r1_gamma=1.0, r1_every=2)  # a penalized step as well
    models = build_dcgan(TrainConfig.load(run / "config.json"))
    assert [tuple(output.shape) for output in models.discriminator.outputs] == [(None, 1), (None, len(STYLE_CLASSES))]
    assert checkpoint.load_generator(run).inputs[1].shape == (None, len(STYLE_CLASSES))


def test_continue_and_morph_take_a_style(styled, tmp_path, capsys):
    from test_primer import theme

    primer, other = theme(tmp_path / "theme.mid"), theme(tmp_path / "other.mid", tonic=57)
    pipeline.main(["continue", "--primer", str(primer), "--duration", "12", "--out", str(tmp_path / "c.mid"),
                   "--model", str(styled), "--style", "bach", "--no-audio"])
    pipeline.main(["morph", str(primer), str(other), "--duration", "12", "--out", str(tmp_path / "m.mid"),
                   "--model", str(styled), "--style", "baroque:4,romantic:8", "--no-audio"])
    out = capsys.readouterr().out
    assert "bach" in out and (tmp_path / "c.mid").is_file() and (tmp_path / "m.mid").is_file()
