"""The evaluate stage end to end on small made-up folders: report, numbers and plot."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from model import metrics, twosample
from model.evaluate import CEILING, CLASSIFIERS, evaluate, set_title
from model.train import train
from tests.test_model import write_rolls


def as_pieces(folder, prefix):
    """Rename the rolls to <prefix><piece>_NNNN.png, two windows a piece, as midi2img names them."""
    for i, path in enumerate(sorted(folder.glob("*.png"))):
        path.rename(folder / f"{prefix}{i // 2}_{i % 2:04d}.png")
    return folder


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    images = write_rolls(root / "train", 16, seed=0)
    as_pieces(write_rolls(root / "test", 12, seed=1), "test")
    as_pieces(write_rolls(root / "validation", 12, seed=2), "validation")
    saved = train(images, root / "run", preset="tiny", max_steps=2, checkpoint_every=2, validation_rolls=0)
    folder = evaluate(saved / "generator.keras", n=10, real=root / "test", reference=root / "validation",
                      train_images=images, name="tiny", reports=root / "reports",
                      cnn=twosample.CnnSettings(filters=(4,), epochs=1))
    return folder


def test_report_files(report):
    assert report.name == "tiny"
    text = (report / "report.md").read_text()
    for stat in metrics.STATISTICS:
        assert stat in text
    assert "Frechet distance" in text and "![distributions](distributions.png)" in text
    # The two-sample table leads, before the statistics.
    assert text.index("Can a classifier tell") < text.index("| statistic |")
    for heading in CLASSIFIERS.values():
        assert heading in text
    for row in ("real (validation): the ceiling", "random notes: baseline", "shuffled 1-s blocks: baseline",
                "| tiny |"):
        assert row in text
    with Image.open(report / "distributions.png") as plot:
        assert plot.format == "PNG" and plot.size[0] > 500


def test_report_numbers(report):
    summary = json.loads((report / "report.json").read_text())
    sets = summary["sets"]
    assert list(sets) == ["real (test)", "real (validation)", "tiny"]
    real, reference = sets["real (test)"], sets["real (validation)"]
    assert real["frechet_distance"] == pytest.approx(0, abs=1e-6)
    assert real["diversity_vs_real"] == pytest.approx(1)
    assert all(s["within_real_sd"] for s in real["statistics"].values())
    # The made-up sets share one recipe: 12 bars of 2-9 steps between MIDI 37 and 96.
    assert reference["frechet_distance"] < sets["tiny"]["frechet_distance"]  # real beats an untrained model
    assert reference["statistics"]["onsets_per_second"]["mean"] == pytest.approx(12 / 37.5, abs=0.05)
    for scores in sets.values():
        assert 0 <= scores["nearest_training_mean"] <= 1 and np.isfinite(scores["frechet_distance"])
    # Test and validation rolls were drawn apart from the training rolls: none is a copy.
    assert real["nearest_training_p05"] > 0.5
    # Dynamics beside the statistics: every made-up onset is ONSET_LEVEL, velocity 127, so no spread.
    assert real["statistics"]["velocity_mean"]["mean"] == pytest.approx(127)
    assert real["statistics"]["velocity_sd"]["mean"] == pytest.approx(0)


def test_report_two_sample(report):
    section = json.loads((report / "report.json").read_text())["two_sample"]
    assert section["folds"] == 5
    assert list(section["sets"]) == ["real (validation)", "random notes", "shuffled blocks", "tiny"]
    for by in section["sets"].values():
        assert list(by) == list(CLASSIFIERS)
        for scores in by.values():
            assert len(scores["folds"]) == 5 and 0 <= scores["mean"] <= 1 and scores["sd"] >= 0
            assert scores["mean"] == pytest.approx(np.mean(scores["folds"]))
    assert set(section["seconds"]) == {"preparing", "features", "cnn", "dynamics", "total"}
    assert section["classifiers"]["features"]["inputs"] == list(twosample.MUSICAL_FEATURES)


def test_a_report_names_the_real_sets_by_their_folders():
    """Scored against the validation split with the test split as the ceiling, the report says so."""
    real, reference = Path("data/images/validation"), Path("data/images/test")
    assert set_title("real (test)", real, reference) == "real (validation)"
    assert set_title(CEILING, real, reference) == "real (test)" and set_title("tiny", real, reference) == "tiny"
