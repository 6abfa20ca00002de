"""Dynamics for notes that carry none: each note's velocity from its place in the music. Pure.

A generator trained before onsets carried velocities (the shipped one) draws every onset alike,
and one velocity for every note is what gives a machine away first. Here a pianist's habits, as
MAESTRO's train rolls show them, set the velocities instead: a linear model over a few things a
score says about each note (the basis-function idea of Grachten and Widmer's Basis Mixer, 2012):
higher notes and the top line louder, chords and busy passages fuller, longer notes weightier;
and, as noise with the real rolls' sizes, what the score does not say: a level per piece, a swell
and ebb from one onset to the next (an AR(1) process over the onset steps) and each note's own
scatter, both larger in some pieces than in others. The noise is seeded by the notes themselves,
so a piece always plays the same.

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
DENSITY_RADIUS = 2  # steps
MIN_NOTES = 8  # a roll with fewer struck notes says too little about its dynamics to be fit on
MODEL_PATH = Path(__file__).with_name("dynamics.json")


@dataclass(frozen=True)
class DynamicsModel:
    coefficients: tuple[float, ...]  # velocity per unit of each BASIS column
    basis_mean: tuple[float, ...]  # the columns' means over the fitted notes (the model is fit on centred columns)
    level_mean: float  # a piece's mean velocity...
    level_sd: float  # ...and how it varies between pieces
    step_sd: float  # the swell: sd of the AR(1) velocity offset shared by the notes of one onset step
    step_rho: float  # its correlation from one onset step to the next
    note_sd: float  # each note's own scatter
    expression_sd: float  # sd of the log of a piece's factor on swell and scatter: some pieces are played evenly


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
    per_step = np.bincount(start, minlength=start.max() + 1)
    cumulative = np.concatenate(([0], np.cumsum(per_step)))
    density = (cumulative[np.minimum(start + DENSITY_RADIUS + 1, len(cumulative) - 1)]
               - cumulative[np.maximum(start - DENSITY_RADIUS, 0)])
    basis = np.stack([pitch - pitch.mean(), top, bass, np.log(counts[step]), np.log(density),
                      np.log2(np.maximum(end - start, 1)), start % STEPS_PER_BEAT == 0,
                      start % (2 * STEPS_PER_BEAT) == 0], axis=1).astype(np.float64)
    return order, basis, step


def fit(note_sets: list[np.ndarray]) -> DynamicsModel:
    """The model of the velocities of `note_sets` (one (n, 4) array of struck notes per roll)."""
    rows, targets, levels, steps = [], [], [], []
    for notes in note_sets:
        notes = np.asarray(notes, np.int64).reshape(-1, 4)
        if len(notes) < MIN_NOTES:
            continue
        order, basis, step = note_basis(notes)
        velocity = notes[order, 3].astype(np.float64)
        rows.append(basis), targets.append(velocity - velocity.mean()), levels.append(velocity.mean())
        steps.append(step)
    if not rows:
        raise ValueError(f"no roll with at least {MIN_NOTES} struck notes to fit dynamics on")
    basis = np.concatenate(rows)
    mean = basis.mean(axis=0)
    coefficients = np.linalg.lstsq(basis - mean, np.concatenate(targets), rcond=None)[0]
    # The residual, split into a part shared by the notes of an onset step (the swell) and each note's own.
    within, within_count, step_var, step_cov, log_sd = 0.0, 0, [], [], []
    for basis_rows, target, step in zip(rows, targets, steps, strict=True):
        residual = target - (basis_rows - mean) @ coefficients
        log_sd.append((np.log(residual.std() + 1e-9), 1 / (2 * (len(residual) - 1))))  # and its sampling variance
        counts = np.bincount(step)
        step_mean = np.bincount(step, weights=residual) / counts
        within += float(((residual - step_mean[step]) ** 2).sum())
        within_count += int((counts - 1).sum())
        centred = step_mean - step_mean.mean()
        step_var.append(np.mean(centred ** 2))
        step_cov.append(np.mean(centred[:-1] * centred[1:]) if len(centred) > 1 else 0.0)
    note_var = within / max(within_count, 1)
    notes_per_step = len(basis) / sum(len(c) for c in (np.unique(s) for s in steps))
    swell_var = max(float(np.mean(step_var)) - note_var / notes_per_step, 1e-6)
    return DynamicsModel(tuple(coefficients.tolist()), tuple(mean.tolist()), float(np.mean(levels)),
                         float(np.std(levels)), float(np.sqrt(swell_var)),
                         float(np.clip(np.mean(step_cov) / swell_var, 0.0, 0.99)), float(np.sqrt(note_var)),
                         float(np.sqrt(max(np.var([v for v, _ in log_sd]) - np.mean([e for _, e in log_sd]), 0.0))))


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
    swell = np.empty(step[-1] + 1)
    swell[0] = rng.standard_normal()
    innovation = np.sqrt(1 - model.step_rho ** 2) * rng.standard_normal(len(swell))
    for i in range(1, len(swell)):
        swell[i] = model.step_rho * swell[i - 1] + innovation[i]
    expression = np.exp(model.expression_sd * rng.standard_normal() - model.expression_sd ** 2)  # mean square 1
    velocity = (rng.normal(model.level_mean, model.level_sd) + (basis - model.basis_mean) @ model.coefficients
                + expression * (model.step_sd * swell[step] + model.note_sd * rng.standard_normal(len(order))))
    notes[order, 3] = np.clip(np.rint(velocity), 1, 127)
    return notes
