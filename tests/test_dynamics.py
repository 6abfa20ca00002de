"""Dynamics for notes that carry none (img2midi/dynamics.py): fitting recovers a known model, playing is
deterministic and sounds like the habits it was fit on."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from img2midi.dynamics import BASIS, DynamicsModel, fit, note_basis, perform, shipped_model


def random_piece(rng: np.random.Generator, count: int = 120, steps: int = 300) -> np.ndarray:
    """(n, 4) notes: chords and single notes at random steps, velocity 0 (to be filled)."""
    starts = np.sort(rng.integers(0, steps - 8, count))
    pitches = rng.integers(36, 96, count)
    notes = np.stack([pitches, starts, starts + rng.integers(1, 8, count), np.zeros(count, int)], axis=1)
    return np.unique(notes, axis=0)  # one note per (pitch, start)


def test_note_basis_marks_the_top_line_and_the_bass_of_chords():
    notes = np.array([[60, 0, 4, 0], [64, 0, 4, 0], [67, 0, 2, 0], [72, 4, 6, 0]])
    order, basis, step = note_basis(notes[::-1])
    column = {name: basis[:, BASIS.index(name)] for name in BASIS}
    assert notes[::-1][order].tolist() == notes.tolist() and step.tolist() == [0, 0, 0, 1]
    assert column["top"].tolist() == [0, 0, 1, 1] and column["bass"].tolist() == [1, 0, 0, 0]
    assert column["log_chord"] == pytest.approx(np.log([3, 3, 3, 1]))
    assert column["pitch"].mean() == pytest.approx(0)


def test_fit_recovers_the_model_the_velocities_were_drawn_from():
    rng = np.random.default_rng(0)
    pieces = [random_piece(rng, count=int(rng.integers(20, 300))) for _ in range(400)]  # textures vary
    basis_mean = np.concatenate([note_basis(piece)[1] for piece in pieces]).mean(axis=0)
    truth = DynamicsModel(coefficients=(0.5, 8.0, 2.0, 3.0, 2.0, 1.0, 1.0, 0.5), basis_mean=tuple(basis_mean),
                          level_mean=60.0, level_slope=3.0,
                          level_sd=4.0, voicing_sd=0.3, step_sd=6.0, step_rho=0.8, note_sd=5.0,
                          expression_sd=0.2, velocity_range=(1, 127))
    pieces = [perform(piece, truth) for piece in pieces]
    fitted = fit(pieces)
    assert fitted.coefficients[BASIS.index("pitch")] == pytest.approx(0.5, abs=0.05)
    assert fitted.coefficients[BASIS.index("top")] == pytest.approx(8.0, abs=1.0)
    assert fitted.level_mean == pytest.approx(60.0, abs=2.0) and fitted.level_sd == pytest.approx(4.0, rel=0.2)
    # A piece's level as its texture sets it: the slope and voicing trade off, the levels agree.
    expected = [[model.level_mean + model.level_slope * ((note_basis(piece)[1] - model.basis_mean)
                                                         @ model.coefficients).mean() for piece in pieces]
                for model in (truth, fitted)]
    assert np.std(expected[0]) > 1.5 and np.sqrt(np.mean(np.subtract(*expected) ** 2)) < 0.5
    assert fitted.note_sd == pytest.approx(5.0, rel=0.15) and fitted.step_sd == pytest.approx(6.0, rel=0.25)
    assert fitted.step_rho == pytest.approx(0.8, abs=0.1) and fitted.expression_sd == pytest.approx(0.2, abs=0.07)
    assert fitted.voicing_sd == pytest.approx(0.3, abs=0.1)


def test_fit_refuses_rolls_too_sparse_to_say_anything():
    with pytest.raises(ValueError, match="at least"):
        fit([np.array([[60, 0, 4, 80]])])


def test_playing_is_a_pure_function_of_the_notes_and_keeps_their_order():
    rng = np.random.default_rng(1)
    notes = rng.permutation(random_piece(rng))
    played = perform(notes)
    np.testing.assert_array_equal(played[:, :3], notes[:, :3])
    np.testing.assert_array_equal(perform(notes), played)
    other = notes.copy()
    other[0, 0] += 1
    assert not np.array_equal(perform(other)[1:, 3], played[1:, 3])  # other notes, another performance
    assert played[:, 3].min() >= 1 and played[:, 3].max() <= 127 and len(perform(notes[:0])) == 0


def test_the_shipped_model_plays_melody_and_high_notes_louder_with_a_pianists_spread():
    model = shipped_model()
    assert len(model.coefficients) == len(BASIS) and 50 <= model.level_mean <= 75
    rng = np.random.default_rng(2)
    pieces = [perform(random_piece(rng)) for _ in range(50)]
    spreads = [piece[:, 3].std() for piece in pieces]
    assert 10 <= np.mean(spreads) <= 22  # MAESTRO test rolls: 15.7 +- 3.4 within a roll
    quiet = dataclasses.replace(model, level_sd=0.0, voicing_sd=0.0, step_sd=0.0, note_sd=0.0, expression_sd=0.0)
    chord = perform(np.array([[48, 0, 8, 0], [55, 0, 8, 0], [64, 0, 8, 0], [72, 0, 8, 0]]), quiet)
    assert chord[:, 3].tolist() == sorted(chord[:, 3].tolist()) and chord[3, 3] - chord[2, 3] >= 5  # top line leads
