"""Which era a roll sounds like, and the best of several drafts of a piece asked for one.

A texture generator gives an era only through the era's mix of textures, which carries part of it
(figuration, harmony and voice leading it does not carry). So a piece asked for an era is drafted
several times and the draft this critic finds most like the era is kept: five small networks over
the two-sample test's musical features (model/twosample.py), averaged, learned from real train-split rolls by
bench/fit_era_critic.py and shipped beside this file. It is a different model from `evaluate
--by-style`'s judge (gradient boosting over the musical and dynamics features) and never sees
the rolls that judge learns from.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from midi2img.spec import WINDOW_STEPS
from midi2img.styles import ERAS
from model import twosample

CRITIC_PATH = Path(__file__).with_name("era_critic.keras")


MEMBERS = 5  # networks averaged: five gave the era asked for more often than one (bench/quality/README.md)


def build_member(features: int, seed: int = 0) -> keras.Model:
    """Standardized musical features -> one probability per era (midi2img.styles.ERAS)."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((features,)),
        keras.layers.Normalization(name="standardize"),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(len(ERAS), activation="softmax"),
    ], name=f"member_{seed}")


def fit_critic(x: np.ndarray, eras: np.ndarray, seed: int = 0, epochs: int = 40,
               members: int = MEMBERS) -> keras.Model:
    """A critic learned from feature rows `x` with era indices `eras`, every era weighing the same: the
    average of `members` networks, each trained on its own from its own start."""
    x = np.asarray(x, np.float32)
    counts = np.bincount(eras, minlength=len(ERAS)).astype(np.float64)
    weights = {era: counts.sum() / max(count, 1.0) / len(ERAS) for era, count in enumerate(counts)}
    trained = []
    for member in range(members):
        network = build_member(x.shape[1], seed * members + member)
        network.get_layer("standardize").adapt(x)
        network.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        network.fit(x, np.asarray(eras), epochs=epochs, batch_size=64, class_weight=weights, verbose=0)
        trained.append(network)
    features = keras.Input((x.shape[1],))
    votes = [network(features) for network in trained]
    return keras.Model(features, keras.layers.Average()(votes) if members > 1 else votes[0], name="era_critic")


def load_critic(path: Path | None = None) -> keras.Model | None:
    """The critic at `path` (default: the shipped one), or None where it is missing: drafts are then not chosen."""
    path = Path(path or CRITIC_PATH)
    return keras.saving.load_model(path, compile=False) if path.is_file() else None


def window_starts(steps: int) -> list[int]:
    """First steps of the WINDOW_STEPS windows that cover a roll of `steps` end to end (the last ends at its end)."""
    return sorted({*range(0, steps - WINDOW_STEPS + 1, WINDOW_STEPS), max(steps - WINDOW_STEPS, 0)})


def window_features(roll: np.ndarray) -> np.ndarray:
    """(windows, features): the musical features of a roll of any length, window by window (window_starts) as
    they were learned; a roll shorter than one window is repeated to fill it, as a loop plays."""
    roll = np.asarray(roll)
    steps = roll.shape[1]
    if steps < WINDOW_STEPS:
        roll = np.tile(roll, (1, -(-WINDOW_STEPS // steps)))[:, :WINDOW_STEPS]
    rows = []
    for start in window_starts(steps):
        canonical = twosample.canonicalize(roll[:, start:start + WINDOW_STEPS])
        rows.append(twosample.musical_features(canonical.notes, canonical.roll))
    return np.array(rows, np.float32)


def era_likeness(critic: keras.Model, rolls, eras: np.ndarray, stage: str = "sample") -> np.ndarray:
    """(n,): for each roll, the critic's mean over its windows of the probability of the era asked for there.

    `rolls` are all as long as `eras` (steps,): the era index (midi2img.styles.ERAS) each step is asked for
    (model.style.scheduled_eras); a window is asked for the era of its middle step.
    """
    eras = np.asarray(eras)
    features = [window_features(roll) for roll in tqdm(rolls, desc=f"{stage}: hearing the drafts", unit="draft",
                                                        leave=False)]
    probabilities = critic.predict(np.concatenate(features), verbose=0, batch_size=1024)
    middles = [min(start + WINDOW_STEPS // 2, len(eras) - 1) for start in window_starts(len(eras))]
    asked = np.tile(eras[middles], len(features))
    return probabilities[np.arange(len(asked)), asked].reshape(len(features), -1).mean(axis=1)


def best_drafts(likeness: np.ndarray, drafts: int) -> np.ndarray:
    """Indices of the most era-like draft of each piece, where pieces' drafts lie one after another."""
    likeness = np.asarray(likeness).reshape(-1, drafts)
    return np.arange(len(likeness)) * drafts + likeness.argmax(axis=1)
