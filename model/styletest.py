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
from model.eracritic import best_drafts, era_likeness
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
    given: float  # share the classifier labels with that era, of the rolls `sample` would write
    two_sample: float  # feature classifier's held-out accuracy against the era's real test rolls (0.5: alike)
    drafts: int = 1  # each roll the era critic's choice of this many (model/eracritic.py)
    given_first_draft: float | None = None  # `given` of the first drafts alone, where there were several
    two_sample_first_draft: float | None = None


def era_rolls(generator: keras.Model, era: str, count: int, seed: int, critic: keras.Model | None = None,
              drafts: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(rolls, first drafts): `count` rolls asked for `era`, each drawing one of the era's classes in the
    training shares; with a critic, each the most era-like of `drafts` (as `sample` chooses), and beside
    them the first draft of each (as without one)."""
    drafts = drafts if critic is not None else 1
    weights = request_weights(generator, era, "evaluate")
    styles = one_hot_styles(weights, count * drafts, np.random.default_rng([seed, 21, ERAS.index(era)]))
    z = latents([seed, 22, ERAS.index(era)], count * drafts, latent_dim(generator))
    rolls = np.concatenate([generate_rolls(generator, z[i:i + 32], styles[i:i + 32])
                            for i in range(0, len(z), 32)])
    if drafts == 1:
        return rolls, rolls
    likeness = era_likeness(critic, rolls, np.full(rolls.shape[2], ERAS.index(era)), "evaluate")
    return rolls[best_drafts(likeness, drafts)], rolls[::drafts]


def judge_era(rolls: np.ndarray, index: int, classifier: HistGradientBoostingClassifier,
              real: twosample.PreparedSet, real_eras: np.ndarray, seed: int) -> tuple[float, float]:
    """(share of `rolls` labelled era `index`, two-sample feature accuracy against that era's real rolls)."""
    prepared = twosample.prepare(rolls, twosample.own_groups(f"generated {ERAS[index]}", len(rolls)))
    given = float(np.mean(classifier.predict(features(prepared)) == index))
    mine = real_eras == index
    try:
        alike = twosample.boosted_accuracy(real.musical[mine], real.groups[mine], prepared.musical,
                                           prepared.groups, seed=seed).mean
    except ValueError:  # too few real pieces of the era for grouped folds
        alike = float("nan")
    return given, alike


def score_eras(generator: keras.Model, classifier: HistGradientBoostingClassifier, real: twosample.PreparedSet,
               real_eras: np.ndarray, count: int, seed: int, critic: keras.Model | None = None,
               drafts: int = 1) -> list[EraScore]:
    """Per era: `count` rolls asked for it, the share labelled with it, and a two-sample test against its real
    rolls; with a critic choosing among drafts, the same of the first drafts beside."""
    scores = []
    for index, era in enumerate(ERAS):
        chosen, first = era_rolls(generator, era, count, seed, critic, drafts)
        given, alike = judge_era(chosen, index, classifier, real, real_eras, seed)
        if critic is None or drafts == 1:
            scores.append(EraScore(era, count, given, alike))
        else:
            scores.append(EraScore(era, count, given, alike, drafts,
                                   *judge_era(first, index, classifier, real, real_eras, seed)))
    return scores


def ceiling(classifier: HistGradientBoostingClassifier, real: twosample.PreparedSet,
            real_eras: np.ndarray) -> tuple[float, float]:
    """(accuracy, balanced accuracy) of the classifier on real rolls it never saw: what a generator can reach."""
    predicted = classifier.predict(features(real))
    return float(np.mean(predicted == real_eras)), float(balanced_accuracy_score(real_eras, predicted))
