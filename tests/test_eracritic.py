"""The era critic: which era a roll sounds like, and the best of several drafts of a piece asked for one."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_style import styled  # noqa: F401  (the fixture)

import pipeline
from midi2img.spec import N_PITCHES, SUSTAIN_LEVEL, WINDOW_STEPS
from midi2img.styles import ERAS
from model import eracritic, twosample
from model.eracritic import best_drafts, era_likeness, fit_critic, load_critic, window_features
from model.options import DRAFTS
from model.sample import sample
from model.style import scheduled_eras


def test_the_shipped_critic_reads_todays_musical_features_and_gives_each_era_a_probability():
    critic = load_critic()
    assert critic is not None, "model/era_critic.keras is missing: run bench/fit_era_critic.py"
    assert critic.input_shape == (None, len(twosample.MUSICAL_FEATURES)), \
        "the musical features changed since the critic was fit: run bench/fit_era_critic.py again"
    roll = np.zeros((N_PITCHES, WINDOW_STEPS), np.uint8)
    roll[40:44:3, ::8] = SUSTAIN_LEVEL  # some thirds, struck every half beat
    probabilities = critic.predict(window_features(roll), verbose=0)
    assert probabilities.shape == (1, len(ERAS)) and np.isclose(probabilities.sum(), 1.0, atol=1e-5)


def test_a_critic_learns_eras_apart_and_the_most_era_like_draft_of_each_piece_is_kept():
    rng = np.random.default_rng(0)
    eras = np.repeat(np.arange(len(ERAS)), 40)
    x = rng.normal(size=(len(eras), 6)) + 3.0 * np.eye(len(ERAS), 6)[eras]  # each era high on its own feature
    critic = fit_critic(x, eras, epochs=30)
    assert np.mean(critic.predict(x, verbose=0).argmax(axis=1) == eras) > 0.9
    likeness = np.array([0.1, 0.7, 0.2, 0.9, 0.3, 0.1])  # two pieces of three drafts
    assert best_drafts(likeness, 3).tolist() == [1, 3]
    assert scheduled_eras(" Baroque", 4, 1.0).tolist() == [ERAS.index("baroque")] * 4
    assert scheduled_eras("bach", 4, 1.0) is None and scheduled_eras(None, 4, 1.0) is None
    assert scheduled_eras("baroque:1,romantic:2", 5, 0.5).tolist() == [0, 0, 2, 2, 2]  # two steps, then the rest
    assert scheduled_eras("baroque:1,sparse:2", 5, 0.5) is None  # an era then a texture: not drafted


def test_each_window_of_a_draft_is_heard_for_the_era_asked_for_at_its_middle():
    class Critic:  # says baroque for the first window of a roll, romantic for the rest
        def predict(self, x, **_):
            probabilities = np.zeros((len(x), len(ERAS)))
            probabilities[:, ERAS.index("romantic")] = 1.0
            probabilities[::2, ERAS.index("romantic")], probabilities[::2, ERAS.index("baroque")] = 0.0, 1.0
            return probabilities

    rolls = np.zeros((3, N_PITCHES, 2 * WINDOW_STEPS), np.uint8)
    asked = np.r_[np.full(WINDOW_STEPS, ERAS.index("baroque")), np.full(WINDOW_STEPS, ERAS.index("romantic"))]
    assert era_likeness(Critic(), rolls, asked).tolist() == [1.0, 1.0, 1.0]
    assert era_likeness(Critic(), rolls, asked[::-1]).tolist() == [0.0, 0.0, 0.0]


def test_window_features_cover_a_long_roll_and_fill_a_short_one_as_a_loop_repeats():
    roll = np.zeros((N_PITCHES, 650), np.uint8)
    roll[50, ::4] = SUSTAIN_LEVEL
    assert window_features(roll).shape == (3, len(twosample.MUSICAL_FEATURES))  # 0, 300 and the last 300
    short = window_features(roll[:, :100])
    assert np.array_equal(short, window_features(np.tile(roll[:, :100], 3)))


@pytest.fixture
def baroque_critic(tmp_path, monkeypatch):
    """A critic that takes any roll for Baroque, so that choosing among drafts runs on the tiny generator."""
    eras = np.arange(len(ERAS)).repeat(8)
    critic = fit_critic(np.random.default_rng(1).normal(size=(len(eras), len(twosample.MUSICAL_FEATURES))),
                        eras, epochs=1, members=2)
    path = tmp_path / "critic.keras"
    critic.save(path)
    monkeypatch.setattr(eracritic, "CRITIC_PATH", path)
    return path


def test_sample_drafts_a_piece_asked_for_an_era_and_says_so_and_the_same_seed_gives_the_same_bytes(
        styled, baroque_critic, tmp_path, capsys, monkeypatch):  # noqa: F811
    kept = []
    choose = eracritic.best_drafts
    monkeypatch.setattr("model.sample.best_drafts", lambda likeness, drafts: kept.append(choose(likeness, drafts))
                        or kept[-1])
    for attempt in ("a", "b"):
        sample(tmp_path / attempt / "x.mid", styled, seed=3, count=2, duration=8, audio=False, style="baroque",
               drafts=3)
        assert "baroque, the best of 3 drafts" in capsys.readouterr().out
    assert (tmp_path / "a" / "x.mid").read_bytes() == (tmp_path / "b" / "x.mid").read_bytes()
    assert [index // 3 for index in kept[0]] == [0, 1]  # one of each piece's own drafts
    sample(tmp_path / "c" / "x.mid", styled, seed=3, duration=8, audio=False, style="baroque", drafts=1)
    assert "best of" not in capsys.readouterr().out
    sample(tmp_path / "e" / "x.mid", styled, seed=3, duration=8, audio=False, style="baroque:4,romantic:4", drafts=2)
    assert "baroque:4,romantic:4, the best of 2 drafts" in capsys.readouterr().out
    sample(tmp_path / "f" / "x.mid", styled, seed=3, duration=8, audio=False, style="bach", drafts=2)
    assert "best of" not in capsys.readouterr().out  # a composer is the generator's own class: nothing to choose
    # A framed loop's intro and outro lead into the draft that was kept.
    assert pipeline.main(["sample", "--model", str(styled), "--out", str(tmp_path / "d" / "x.mid"), "--style",
                          "baroque", "--drafts", "2", "--loop", "--duration", "8", "--intro", "2", "--outro", "2",
                          "--no-audio"]) == 0
    assert "the best of 2 drafts" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        pipeline.main(["sample", "--model", str(styled), "--out", str(tmp_path / "x.mid"), "--drafts", "0"])
    assert "out of range" in capsys.readouterr().err


def test_evaluate_by_style_scores_the_kept_drafts_beside_the_first(styled, baroque_critic, tmp_path):  # noqa: F811
    from test_model import write_rolls

    from midi2img.styles import write_style_index
    from model.evaluate import evaluate

    test = write_rolls(tmp_path / "test", 12, seed=1)
    write_style_index(test, [(f"piece{i}", "Frédéric Chopin" if i % 2 else "Johann Sebastian Bach") for i in range(12)])
    folder = evaluate(styled, n=8, real=test, reference=test, train_images=styled.parent / "train", name="styled",
                      reports=tmp_path / "reports", cnn=twosample.CnnSettings(filters=(4,), epochs=1), by_style=True)
    eras = json.loads((folder / "report.json").read_text())["by_style"]["eras"]
    assert all(score["drafts"] == DRAFTS and 0 <= score["given_first_draft"] <= 1 for score in eras)
    assert "first draft: given" in (folder / "report.md").read_text()
