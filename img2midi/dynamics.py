"""Dynamics for notes that carry none: each note's velocity from its place in the music. Pure.

A generator trained before onsets carried velocities (the shipped one) draws every onset alike,
and one velocity for every note is what gives a machine away first. Here a pianist's habits, as
MAESTRO's train rolls show them, set the velocities instead: a linear model over a few things a
score says about each note (the basis-function idea of Grachten and Widmer's Basis Mixer, 2012):
higher notes and the top line louder, chords and busy passages fuller, longer notes weightier,
each more in some pieces than in others. A piece's level follows its texture (busier pieces are
played louder) and spreads between pieces as the real rolls' levels do; around it, as noise with
the real rolls' sizes, what the score does not say: a swell and ebb from one onset to the next (an
AR(1) process over the onset steps) and each note's own scatter, both larger in some pieces than
in others. The noise is seeded by the notes themselves, so a piece always plays the same.

The model's numbers are in `dynamics.json` beside this file, fit by `python bench/fit_dynamics.py`
(written by hand: no maintained library fits a performance model to piano rolls).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from scipy.signal import lfilter

from midi2img.spec import STEPS_PER_BEAT

BASIS = (
    "pitch",  # semitones from the piece's mean pitch
    "top",  # the highest note struck at its step (a melody note, or a single note)
    "bass",  # the lowest note of a chord
    "log_chord",  # log of the notes struck at the step
    "log_density",  # log of the notes struck within 2 steps either side
    "log_length",  # log2 of the note's steps
    "on_beat",
    "on_half_bar",
)
DENSITY_RADIUS = 2  # steps either side of a note's onset counted as its local onset density
MIN_NOTES = 8  # a roll with fewer struck notes says too little about its dynamics to be fit on
MODEL_PATH = Path(__file__).with_name("dynamics.json")


@dataclass(frozen=True)
class DynamicsModel:
    coefficients: tuple[float, ...]  # velocity per unit of each BASIS column
    basis_mean: tuple[float, ...]  # the columns' means over the fitted notes (the model is fit on centred columns)
    level_mean: float  # a piece's mean velocity where its mean voicing is the fitted notes'...
    level_slope: float  # ...its change per unit of the piece's mean voicing (basis @ coefficients) above the mean...
    level_sd: float  # ...and how much it varies between pieces beyond that
    voicing_sd: float  # sd of a piece's factor on the linear part: some pieces voice melody and register more
    step_sd: float  # the swell: sd of the AR(1) velocity offset shared by the notes of one onset step
    step_rho: float  # its correlation from one onset step to the next
    note_sd: float  # each note's own scatter
    expression_sd: float  # sd of the log of a piece's factor on swell and scatter: some pieces are played evenly
    velocity_range: tuple[int, int]  # the real velocities' 0.5th and 99.5th percentiles: the softest and loudest played


def local_onsets(starts: np.ndarray) -> np.ndarray:
    """Per note (by its start step), the notes that start within DENSITY_RADIUS steps of it, itself included."""
    starts = np.asarray(starts, np.int64)
    cumulative = np.concatenate(([0], np.cumsum(np.bincount(starts))))
    return (cumulative[np.minimum(starts + DENSITY_RADIUS + 1, len(cumulative) - 1)]
            - cumulative[np.maximum(starts - DENSITY_RADIUS, 0)])


def ar1(first: float, innovations: np.ndarray, rho: float) -> np.ndarray:
    """The AR(1) series that starts at `first` and then takes rho times its last value plus each of
    `innovations[1:]` (`innovations[0]` is not used)."""
    return lfilter([1.0], [1.0, -rho], np.concatenate(([first], innovations[1:])))


def note_basis(notes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(order, basis, step): the order that sorts (n, 4) notes by start then pitch, their BASIS rows in
    that order, and each sorted note's onset-step index (0, 1, ... over the distinct starts)."""
    order = np.lexsort((notes[:, 0], notes[:, 1]))
    pitch, start, end = (notes[order, i] for i in range(3))
    starts, first, counts = np.unique(start, return_index=True, return_counts=True)
    step = np.repeat(np.arange(len(starts)), counts)
    top, bass = np.zeros(len(order), bool), np.zeros(len(order), bool)
    top[np.append(first[1:], len(order)) - 1] = True
    bass[first[counts > 1]] = True
    basis = np.stack([pitch - pitch.mean(), top, bass, np.log(counts[step]), np.log(local_onsets(start)),
                      np.log2(np.maximum(end - start, 1)), start % STEPS_PER_BEAT == 0,
                      start % (2 * STEPS_PER_BEAT) == 0], axis=1).astype(np.float64)
    return order, basis, step


def fit(note_sets: list[np.ndarray]) -> DynamicsModel:
    """The model of the velocities of `note_sets` (one (n, 4) array of struck notes per roll)."""
    rolls = []  # per roll: (basis, velocity minus the roll's mean, onset-step index, the roll's mean)
    played = []
    for notes in note_sets:
        notes = np.asarray(notes, np.int64).reshape(-1, 4)
        if len(notes) >= MIN_NOTES:
            order, basis, step = note_basis(notes)
            velocity = notes[order, 3].astype(np.float64)
            rolls.append((basis, velocity - velocity.mean(), step, velocity.mean()))
            played.append(velocity)
    if not rolls:
        raise ValueError(f"no roll with at least {MIN_NOTES} struck notes to fit dynamics on")
    stacked = np.concatenate([basis for basis, *_ in rolls])
    mean = stacked.mean(axis=0)
    coefficients = np.linalg.lstsq(stacked - mean, np.concatenate([target for _, target, *_ in rolls]), rcond=None)[0]
    # Per roll, with its sampling variance where one is subtracted below: how strongly it follows the model
    # (the voicing), the size of what is left, and that remainder split into a part shared by the notes of an
    # onset step (the swell) and each note's own.
    voicing, voicing_error, log_sd, log_sd_error = [], [], [], []
    within, within_count, step_var, step_cov, inverse_counts = 0.0, 0, [], [], []
    for basis, target, step, _ in rolls:
        predicted = (basis - mean) @ coefficients
        centred = predicted - predicted.mean()
        spread = max(float(centred @ centred), 1e-9)
        slope = float(centred @ target) / spread
        residual = target - slope * centred  # what is left once the roll's own voicing is taken out
        voicing.append(slope)
        voicing_error.append(float(residual.var()) / spread)
        log_sd.append(np.log(residual.std() + 1e-9))
        log_sd_error.append(1 / (2 * (len(residual) - 1)))
        counts = np.bincount(step)
        step_mean = np.bincount(step, weights=residual) / counts
        within += float(((residual - step_mean[step]) ** 2).sum())
        within_count += int((counts - 1).sum())
        inverse_counts.extend(1 / counts)
        step_mean -= step_mean.mean()
        step_var.append(np.mean(step_mean ** 2))
        step_cov.append(np.mean(step_mean[:-1] * step_mean[1:]) if len(step_mean) > 1 else 0.0)
    note_var = within / max(within_count, 1)
    swell_var = max(float(np.mean(step_var)) - note_var * float(np.mean(inverse_counts)), 1e-6)
    step_rho, share = swell_within_roll(float(np.mean(step_cov)) / swell_var, [step[-1] + 1 for _, _, step, _ in rolls])
    # Between rolls: the level, as far as the rolls' textures say it, and the spread left. A swell that drifts
    # slowly is mostly a roll's level, so the whole between-roll spread goes here and `perform` centres the swell.
    # One slope, not one per column: the rolls' means of the columns are nearly collinear.
    levels = np.array([level for *_, level in rolls])
    textures = (np.array([basis.mean(axis=0) for basis, *_ in rolls]) - mean) @ coefficients
    level_slope, level_mean = np.polyfit(textures, levels, 1)
    true_sd = lambda values, errors: float(np.sqrt(max(np.var(values) - np.mean(errors), 0.0)))  # noqa: E731
    return DynamicsModel(
        coefficients=tuple(coefficients.tolist()), basis_mean=tuple(mean.tolist()),
        level_mean=float(level_mean), level_slope=float(level_slope),
        level_sd=float(np.std(levels - level_mean - level_slope * textures)),
        voicing_sd=true_sd(voicing, voicing_error), step_sd=float(np.sqrt(swell_var / share)), step_rho=step_rho,
        note_sd=float(np.sqrt(note_var)),
        expression_sd=true_sd(log_sd, log_sd_error),
        velocity_range=tuple(int(v) for v in np.percentile(np.concatenate(played), [0.5, 99.5]).round()))


def swell_within_roll(correlation: float, step_counts: list[int], seed: int = 0) -> tuple[float, float]:
    """(rho, share) of an AR(1) swell whose deviations from each roll's mean correlate at `correlation` from one
    onset step to the next, over rolls of `step_counts` onset steps; `share` is the part of the swell's variance
    left within a roll once its mean is taken out (a slow swell hardly moves within one roll). By simulation:
    the expected deviations of a short AR(1) series have no simple closed form."""
    rng = np.random.default_rng(seed)
    counts = np.asarray(step_counts)[:400]
    noise = [rng.standard_normal(count) for count in counts]

    def within(rho: float) -> tuple[float, float]:  # mean centred variance and lag-1 covariance, unit swell
        variances, covariances = [], []
        for eps in noise:
            series = ar1(eps[0], np.sqrt(1 - rho ** 2) * eps, rho)
            series -= series.mean()
            variances.append(np.mean(series ** 2))
            covariances.append(np.mean(series[:-1] * series[1:]) if len(series) > 1 else 0.0)
        return float(np.mean(variances)), float(np.mean(covariances))

    low, high = 0.0, 0.995
    for _ in range(20):  # bisection: the centred correlation grows with rho
        rho = (low + high) / 2
        variance, covariance = within(rho)
        low, high = (rho, high) if covariance / variance < correlation else (low, rho)
    return rho, within(rho)[0]


@cache
def shipped_model() -> DynamicsModel:
    """The model fit on MAESTRO's train rolls (dynamics.json)."""
    fields = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    return DynamicsModel(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})


def perform(notes: np.ndarray, model: DynamicsModel | None = None) -> np.ndarray:
    """The notes, in their order, with velocities drawn from `model` (default: the shipped one)."""
    notes = np.asarray(notes, np.int64).reshape(-1, 4).copy()
    if not len(notes):
        return notes
    model = model or shipped_model()
    rng = np.random.default_rng(zlib.crc32(notes[:, :3].tobytes()))
    order, basis, step = note_basis(notes)
    first = rng.standard_normal()
    swell = ar1(first, np.sqrt(1 - model.step_rho ** 2) * rng.standard_normal(step[-1] + 1), model.step_rho)
    voicing = max(0.0, 1 + model.voicing_sd * rng.standard_normal())
    expression = np.exp(model.expression_sd * rng.standard_normal() - model.expression_sd ** 2)  # mean square 1
    swell = swell[step]
    swell -= swell.mean()  # the piece's level holds what does not change within it
    voiced = (basis - model.basis_mean) @ model.coefficients
    level = rng.normal(model.level_mean, model.level_sd) + model.level_slope * voiced.mean()
    velocity = (level + voicing * (voiced - voiced.mean())
                + expression * (model.step_sd * swell + model.note_sd * rng.standard_normal(len(order))))
    notes[order, 3] = np.clip(np.rint(velocity), *model.velocity_range)
    return notes
