"""Does a generator give the style it is asked for? An era classifier trained on real rolls judges.

The classifier is gradient boosting (scikit-learn) over the two-sample test's musical and
dynamics features (model/twosample.py), trained on real train-split rolls with each era weighted
evenly. Its accuracy on real test rolls is the ceiling (A_real); a style-conditioned generator's
rolls asked for each era are then labelled by it, and the share given the requested era is the
score (four eras: 0.25 is chance). Beside it, per era, the two-sample feature test against the
real test rolls of that era.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import balanced_accuracy_score
from threadpoolctl import threadpool_limits

from midi2img.styles import ERAS
from model import twosample
from model.generate import generate_rolls, latent_dim, latents
from model.style import one_hot_styles, request_weights


def features(prepared: twosample.PreparedSet) -> np.ndarray:
    """What the era classifier reads of each roll: its musical and dynamics features."""
    return np.hstack([prepared.musical, prepared.dynamics])


def train_era_classifier(x: np.ndarray, eras: np.ndarray, seed: int = 0) -> HistGradientBoostingClassifier:
    """Gradient boosting over feature rows `x` with era indices `eras`, every era weighing the same in all."""
    counts = np.bincount(eras, minlength=len(ERAS)).astype(float)
    weights = (counts.sum() / np.maximum(counts, 1) / len(ERAS))[eras]
    with threadpool_limits(1, user_api="openmp"):  # as twosample.boosted_accuracy: OpenMP crawls on busy cores
        classifier = HistGradientBoostingClassifier(**twosample.BOOSTING, random_state=seed)
        return classifier.fit(x, eras, sample_weight=weights)


@dataclass(frozen=True)
class EraScore:
    era: str
    asked: int  # rolls asked for the era
    given: float  # share the classifier labels with that era
    two_sample: float  # feature classifier's held-out accuracy against the era's real test rolls (0.5: alike)


def era_rolls(generator: keras.Model, era: str, count: int, seed: int) -> np.ndarray:
    """`count` rolls asked for `era`: each draws one of the era's classes in the training shares."""
    weights = request_weights(generator, era, "evaluate")
    styles = one_hot_styles(weights, count, np.random.default_rng([seed, 21, ERAS.index(era)]))
    z = latents([seed, 22, ERAS.index(era)], count, latent_dim(generator))
    return np.concatenate([generate_rolls(generator, z[i:i + 32], styles[i:i + 32]) for i in range(0, count, 32)])


def score_eras(generator: keras.Model, classifier: HistGradientBoostingClassifier, real: twosample.PreparedSet,
               real_eras: np.ndarray, count: int, seed: int) -> list[EraScore]:
    """Per era: `count` rolls asked for it, the share labelled with it, and a two-sample test against its real rolls."""
    scores = []
    for index, era in enumerate(ERAS):
        rolls = era_rolls(generator, era, count, seed)
        prepared = twosample.prepare(rolls, twosample.own_groups(f"generated {era}", len(rolls)))
        given = float(np.mean(classifier.predict(features(prepared)) == index))
        mine = real_eras == index
        try:
            alike = twosample.boosted_accuracy(real.musical[mine], real.groups[mine], prepared.musical,
                                               prepared.groups, seed=seed).mean
        except ValueError:  # too few real pieces of the era for grouped folds
            alike = float("nan")
        scores.append(EraScore(era, count, given, alike))
    return scores


def ceiling(classifier: HistGradientBoostingClassifier, real: twosample.PreparedSet,
            real_eras: np.ndarray) -> tuple[float, float]:
    """(accuracy, balanced accuracy) of the classifier on real rolls it never saw: what a generator can reach."""
    predicted = classifier.predict(features(real))
    return float(np.mean(predicted == real_eras)), float(balanced_accuracy_score(real_eras, predicted))
