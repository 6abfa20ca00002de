"""Two-sample tests: how well can a classifier tell a set of rolls from real ones? Pure: rolls in, numbers out.

Per-statistic checks compare one number at a time, so a generator can match every mean and
still be told from real music at a glance. Here a classifier is trained to tell a set from the
real rolls and scored on rolls it did not see: a held-out accuracy of 0.5 says the sets cannot
be told apart, 1.0 that every roll gives itself away. Three classifiers, reported apart:

- gradient boosting over musical features of each roll (``musical_features``);
- a small CNN over the notes themselves (sounding and onset channels of the piano's 88 rows);
- gradient boosting over dynamics features alone (``dynamics_features``), since rolls drawn
  before velocities were kept carry none and would otherwise drown the rest.

Every roll is first canonicalized the way a listener hears it (decoded as ``sample`` plays it,
pitches the piano lacks dropped, drawn again), so pixel noise that makes no sound decides nothing.
Folds are grouped by source piece: windows of one piece never sit on both sides of a split, or
the classifier would recognise pieces and even real against real would look separable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from img2midi.core import DEFAULT_THRESHOLD, roll_to_notes, struck_mask
from img2midi.dynamics import local_onsets, perform
from img2midi.mood import key_profile
from midi2img import spec
from midi2img.core import notes_to_roll
from midi2img.spec import ONSET_THRESHOLD, PIANO_HIGHEST, PIANO_LOWEST, STEPS_PER_BEAT, pitch_to_row
from model import metrics

PIANO_ROWS = slice(pitch_to_row(PIANO_HIGHEST), pitch_to_row(PIANO_LOWEST) + 1)  # the 88 rows a piano can play
BLOCK_STEPS = 2 * STEPS_PER_BEAT  # the shuffled baseline's blocks: 1 s at 120 bpm
REPETITION_LAGS = range(1, 9)  # beats: how far back material may repeat
LOW_PITCH, HIGH_PITCH = 48, 72  # register shares: below C3, from C5 up

# The musical features, after metrics.roll_features' (pitch bands, pitch classes, note lengths, statistics).
EXTRA_FEATURES = (
    "top_line_step_share",  # top line (highest onset of each onset step): intervals of 0-2 semitones
    "top_line_leap_share",  # ... intervals over 7 semitones
    "top_line_mean_interval",
    "bass_line_step_share",  # the same for the lowest onset of each onset step
    "bass_line_leap_share",
    "chord_share",  # onsets that share their step with another onset
    "onsets_per_onset_step",
    "inter_onset_mean",  # steps between successive onset steps
    "inter_onset_sd",
    "onset_step_share",  # steps with an onset
    "on_beat_share",  # onsets on a beat
    "note_length_sd",  # steps
    "log_length_mean",  # log2 steps
    "log_length_sd",
    "max_polyphony",
    "longest_silence_share",  # longest run of silent steps, as a share of the roll
    "block_onsets_sd",  # onsets per 1-s block: how the density moves through the roll
    "block_onsets_cv",
    "register_drift",  # sd of the mean onset pitch over 1-beat windows
    "onset_repetition",  # max autocorrelation of onsets per step at lags of 1-8 beats
    "chroma_repetition",  # max mean cosine of onset pitch classes per beat with those 1-8 beats later
    "pitch_repetition",  # the same for exact pitches
    "mean_pitch",
    "pitch_sd",
    "low_share",  # onsets below LOW_PITCH
    "high_share",  # onsets from HIGH_PITCH up
    "lowest_pitch",
    "highest_pitch",
    "key_clarity",  # best correlation of the pitch-class shares with the 24 key profiles
    *(f"interval_class_{k}" for k in range(1, 7)),  # share of sounding pitch-class pairs k semitones apart
)
METRIC_FEATURES = (*(f"band_{i}" for i in range(metrics.N_BANDS)), *(f"pitch_class_{i}" for i in range(12)),
                   *(f"length_bin_{i}" for i in range(len(metrics.LENGTH_EDGES) - 1)), *metrics.STATISTICS)
MUSICAL_FEATURES = (*METRIC_FEATURES, *EXTRA_FEATURES)
DYNAMICS_FEATURES = (
    "velocity_mean",
    "velocity_sd",
    "velocity_spread",  # 90th minus 10th percentile
    "velocity_pitch_correlation",
    "velocity_density_correlation",  # with the onsets near each (img2midi.dynamics.local_onsets)
    "top_line_velocity_excess",  # the top line's mean velocity minus the other onsets'
    "velocity_change",  # mean |change| of the mean velocity between successive onset steps
)

# Gradient boosting: shallow trees and a slow rate, as 400-1000 rolls are few for ~80 features.
BOOSTING = {"max_iter": 150, "learning_rate": 0.05, "max_leaf_nodes": 15, "min_samples_leaf": 10,
            "l2_regularization": 1.0, "early_stopping": False}


@cache
def _key_profiles_z() -> np.ndarray:
    """(24, 12): the major and minor key profiles on every tonic, each row z-scored (a dot product / 12 is
    Pearson's r)."""
    profiles = np.stack([np.roll(key_profile(mode), tonic) for mode in ("major", "minor") for tonic in range(12)])
    return (profiles - profiles.mean(axis=1, keepdims=True)) / profiles.std(axis=1, keepdims=True)


@dataclass(frozen=True)
class CnnSettings:
    """The CNN classifier: small and few epochs, so 20 fits of ~800 rolls fit in minutes on 2 cores."""

    filters: tuple[int, ...] = (16, 32, 32)  # one 3x3 conv + 2x2 max-pool each
    first_stride: int = 2  # the first conv strides over pitch and time: the rolls are large, the classes few
    epochs: int = 5  # tells a flawed generator, yet real against real stays near 0.5 (bench/quality)
    batch_size: int = 32
    learning_rate: float = 3e-3
    dropout: float = 0.3


DEFAULT_CNN = CnnSettings()


@dataclass(frozen=True)
class FoldScores:
    """Held-out (balanced) accuracy of one classifier, one value per fold."""

    accuracies: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def sd(self) -> float:
        return float(np.std(self.accuracies))


@dataclass(frozen=True)
class PreparedSet:
    """A set of canonical rolls with everything the classifiers read, computed once."""

    notes: tuple[np.ndarray, ...]  # per roll, (n, 4): pitch, start, end, velocity
    struck: tuple[np.ndarray, ...]  # per roll, (n,) bool: Canonical.struck
    rolls: np.ndarray  # (n, 106, T) uint8, canonical
    groups: np.ndarray  # (n,) str: the source piece; rolls of one group stay on one side of every split
    musical: np.ndarray  # (n, len(MUSICAL_FEATURES))
    dynamics: np.ndarray  # (n, len(DYNAMICS_FEATURES))

    def subset(self, indices: np.ndarray) -> PreparedSet:
        """The rolls at `indices`, with everything computed for them."""
        return PreparedSet(tuple(self.notes[i] for i in indices), tuple(self.struck[i] for i in indices),
                           self.rolls[indices], self.groups[indices], self.musical[indices], self.dynamics[indices])


# --- canonical rolls -----------------------------------------------------------------------------


class Canonical(NamedTuple):
    """One roll as `sample` plays it."""

    notes: np.ndarray  # (n, 4): pitch, start, end, velocity; piano keys only
    roll: np.ndarray  # (106, T) uint8: the notes drawn again
    struck: np.ndarray  # (n,) bool: the note began on an onset pixel, so its velocity was read, not defaulted


def canonicalize(roll: np.ndarray, played: bool = False) -> Canonical:
    """A roll decoded as `sample` plays it, pitches the piano lacks dropped, drawn again.

    `played`: the roll is a generator's that draws no velocities, so its velocities are played by
    img2midi.dynamics, as `sample` plays them.
    """
    roll = np.asarray(roll)
    notes = roll_to_notes(roll)
    notes = notes[(notes[:, 0] >= PIANO_LOWEST) & (notes[:, 0] <= PIANO_HIGHEST)]
    if played:
        notes = perform(notes)
    return Canonical(notes, notes_to_roll(notes, roll.shape[1]), struck_mask(roll, notes))


def own_groups(label: str, count: int) -> list[str]:
    """Group names for rolls that are each their own piece (generated, random), unlike any real piece's."""
    return [f"{label}:{i}" for i in range(count)]


# --- features ------------------------------------------------------------------------------------


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation, 0 where either side does not vary (an undefined correlation tells nothing)."""
    if len(a) < 2 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _motion(line: np.ndarray) -> tuple[float, float, float]:
    """Share of steps (0-2 semitones), share of leaps (over 7) and mean interval of a melodic line."""
    intervals = np.abs(np.diff(line))
    if len(intervals) == 0:
        return 0.0, 0.0, 0.0
    return float(np.mean(intervals <= 2)), float(np.mean(intervals > 7)), float(intervals.mean())


def _longest_run(mask: np.ndarray) -> int:
    """Length of the longest run of True."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) if len(starts) else 0


def _repetition(per_beat: np.ndarray) -> float:
    """Max over lags of 1-8 beats of the mean cosine between a beat's vector and the one `lag` beats later."""
    norms = np.linalg.norm(per_beat, axis=1)
    unit = per_beat / np.maximum(norms, 1e-12)[:, None]
    best = 0.0
    for lag in REPETITION_LAGS:
        both = (norms[:-lag] > 0) & (norms[lag:] > 0)
        if both.any():
            best = max(best, float(np.sum(unit[:-lag] * unit[lag:], axis=1)[both].mean()))
    return best


def _interval_classes(roll: np.ndarray) -> np.ndarray:
    """Shares of the pitch-class pairs sounding together (summed over steps) 1..6 semitones apart."""
    rows = np.arange(roll.shape[0])
    pitch_classes = spec.row_to_pitch(rows) % 12
    sounding = (roll >= DEFAULT_THRESHOLD).astype(np.float64)
    chroma = np.zeros((12, roll.shape[1]))
    np.add.at(chroma, pitch_classes, sounding)
    chroma = np.minimum(chroma, 1.0)
    pairs = np.array([np.sum(chroma * np.roll(chroma, -k, axis=0)) for k in range(1, 7)])
    pairs[5] /= 2.0  # a tritone is its own inversion: each pair was counted from both ends
    return pairs / max(pairs.sum(), 1.0)


def musical_features(notes: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """MUSICAL_FEATURES of one canonical roll (its notes and image); 0 where a roll has too few notes to say."""
    steps = roll.shape[1]
    sounding = (roll >= DEFAULT_THRESHOLD).sum(axis=0)
    f = dict.fromkeys(EXTRA_FEATURES, 0.0)
    f["max_polyphony"] = sounding.max()
    f["longest_silence_share"] = _longest_run(sounding == 0) / steps
    f.update(zip(EXTRA_FEATURES[-6:], _interval_classes(roll), strict=True))
    if len(notes):
        f.update(_note_features(notes[np.lexsort((notes[:, 0], notes[:, 1]))], steps))
    return np.concatenate([metrics.roll_features(roll), [f[name] for name in EXTRA_FEATURES]])


def _note_features(notes: np.ndarray, steps: int) -> dict[str, float]:
    """The EXTRA_FEATURES that need notes, of a roll's notes sorted by start then pitch."""
    pitches, starts = notes[:, 0], notes[:, 1]
    lengths = notes[:, 2] - notes[:, 1]
    onset_steps, first, counts = np.unique(starts, return_index=True, return_counts=True)
    top, bass = np.maximum.reduceat(pitches, first), np.minimum.reduceat(pitches, first)
    f: dict[str, float] = {}
    f["top_line_step_share"], f["top_line_leap_share"], f["top_line_mean_interval"] = _motion(top)
    f["bass_line_step_share"], f["bass_line_leap_share"], _ = _motion(bass)
    f["chord_share"] = counts[counts > 1].sum() / len(notes)
    f["onsets_per_onset_step"] = len(notes) / len(onset_steps)
    gaps = np.diff(onset_steps)
    if len(gaps):
        f["inter_onset_mean"], f["inter_onset_sd"] = gaps.mean(), gaps.std()
    f["onset_step_share"] = len(onset_steps) / steps
    f["on_beat_share"] = np.mean(starts % STEPS_PER_BEAT == 0)
    f["note_length_sd"] = lengths.std()
    f["log_length_mean"], f["log_length_sd"] = np.log2(lengths).mean(), np.log2(lengths).std()
    per_step = np.bincount(starts, minlength=steps)[:steps].astype(np.float64)
    blocks = per_step[:steps - steps % BLOCK_STEPS].reshape(-1, BLOCK_STEPS).sum(axis=1)
    f["block_onsets_sd"] = blocks.std()
    f["block_onsets_cv"] = blocks.std() / max(blocks.mean(), 1e-9)
    beats = steps // STEPS_PER_BEAT
    on_grid = starts < beats * STEPS_PER_BEAT
    beat_of, beat_pitches = starts[on_grid] // STEPS_PER_BEAT, pitches[on_grid]
    beat_counts = np.bincount(beat_of, minlength=beats)
    beat_mean_pitch = (np.bincount(beat_of, weights=beat_pitches, minlength=beats)[beat_counts > 0]
                       / beat_counts[beat_counts > 0])
    f["register_drift"] = beat_mean_pitch.std() if len(beat_mean_pitch) > 1 else 0.0
    f["onset_repetition"] = max(_correlation(per_step[:-lag * STEPS_PER_BEAT], per_step[lag * STEPS_PER_BEAT:])
                                for lag in REPETITION_LAGS)
    chroma = np.zeros((beats, 12))
    np.add.at(chroma, (beat_of, beat_pitches % 12), 1.0)
    keys = np.zeros((beats, PIANO_HIGHEST - PIANO_LOWEST + 1))
    np.add.at(keys, (beat_of, beat_pitches - PIANO_LOWEST), 1.0)
    f["chroma_repetition"], f["pitch_repetition"] = _repetition(chroma), _repetition(keys)
    f["mean_pitch"], f["pitch_sd"] = pitches.mean(), pitches.std()
    f["low_share"], f["high_share"] = np.mean(pitches < LOW_PITCH), np.mean(pitches >= HIGH_PITCH)
    f["lowest_pitch"], f["highest_pitch"] = pitches.min(), pitches.max()
    f["key_clarity"] = key_clarity(notes)
    return f


def key_clarity(notes: np.ndarray) -> float:
    """Best correlation of the notes' pitch-class shares with the 24 Krumhansl-Kessler key profiles."""
    classes = metrics.pitch_class_shares(notes)
    if classes.std() == 0:
        return 0.0
    z = (classes - classes.mean()) / classes.std()
    return float((_key_profiles_z() @ z).max() / 12)


def dynamics_features(notes: np.ndarray, steps: int) -> np.ndarray:
    """DYNAMICS_FEATURES of one roll's (n, 4) notes; all 0 for a roll without notes."""
    f = dict.fromkeys(DYNAMICS_FEATURES, 0.0)
    if len(notes):
        notes = notes[np.lexsort((notes[:, 0], notes[:, 1]))]
        pitches, starts, velocity = notes[:, 0], notes[:, 1], notes[:, 3].astype(np.float64)
        f["velocity_mean"], f["velocity_sd"] = velocity.mean(), velocity.std()
        f["velocity_spread"] = np.percentile(velocity, 90) - np.percentile(velocity, 10)
        f["velocity_pitch_correlation"] = _correlation(velocity, pitches.astype(np.float64))
        f["velocity_density_correlation"] = _correlation(velocity, local_onsets(starts).astype(np.float64))
        onset_steps, first = np.unique(starts, return_index=True)
        top = np.concatenate((first[1:], [len(notes)])) - 1  # sorted by pitch within a step: the last is the top
        others = np.ones(len(notes), dtype=bool)
        others[top] = False
        if others.any():
            f["top_line_velocity_excess"] = velocity[top].mean() - velocity[others].mean()
        if len(onset_steps) > 1:
            step_means = np.add.reduceat(velocity, first) / np.diff(np.append(first, len(notes)))
            f["velocity_change"] = np.abs(np.diff(step_means)).mean()
    return np.array([f[name] for name in DYNAMICS_FEATURES])


def prepare(rolls: np.ndarray, groups: Sequence[str], played: bool = False) -> PreparedSet:
    """Canonicalize a set of rolls (`played`: see canonicalize) and compute both feature groups, once for
    every classifier."""
    if len(rolls) != len(groups):
        raise ValueError(f"{len(rolls)} rolls but {len(groups)} groups")
    canonical = [canonicalize(roll, played) for roll in rolls]
    steps = np.shape(rolls)[-1]
    return PreparedSet(
        notes=tuple(c.notes for c in canonical), struck=tuple(c.struck for c in canonical),
        rolls=np.stack([c.roll for c in canonical]).reshape(len(canonical), spec.N_PITCHES, steps),
        groups=np.asarray(groups, dtype=str),
        musical=np.array([musical_features(c.notes, c.roll) for c in canonical]).reshape(-1, len(MUSICAL_FEATURES)),
        # Only struck notes: a note carried in at column 0 has the decoder's default velocity, not a played one.
        dynamics=np.array([dynamics_features(c.notes[c.struck], steps)
                           for c in canonical]).reshape(-1, len(DYNAMICS_FEATURES)))


# --- baselines -----------------------------------------------------------------------------------


def random_note_rolls(real: PreparedSet, count: int, seed: int) -> np.ndarray:
    """Rolls of notes at uniform onset steps with the real rolls' marginals, and nothing else real.

    Each roll's note count is a real roll's; each note's pitch, length and velocity (of struck notes)
    are drawn apart from the pooled real notes. What a feature that only counts cannot tell from music.
    """
    rng = np.random.default_rng(seed)
    steps = real.rolls.shape[2]
    pooled = np.concatenate([np.zeros((0, 4), np.int64), *real.notes])
    velocities = np.concatenate([np.zeros(0, np.int64), *(n[s, 3] for n, s in zip(real.notes, real.struck,
                                                                                   strict=True))])
    if len(pooled) == 0:
        raise ValueError("the real rolls have no notes to draw from")
    if len(velocities) == 0:
        velocities = pooled[:, 3]
    counts = np.array([len(n) for n in real.notes])
    lengths = pooled[:, 2] - pooled[:, 1]
    rolls = np.zeros((count, spec.N_PITCHES, steps), np.uint8)
    for i in range(count):
        n = int(rng.choice(counts))
        starts = rng.integers(0, steps, n)
        notes = np.stack([rng.choice(pooled[:, 0], n), starts, starts + rng.choice(lengths, n),
                          rng.choice(velocities, n)], axis=1)
        rolls[i] = notes_to_roll(notes, steps)
    return rolls


def shuffle_blocks(notes: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """The notes with the roll's whole 1-s blocks in a random order; each note moves with the block it starts in.

    Notes move whole (held notes are not cut at block edges, which would give the shuffle away for
    a reason that is not phrasing); a partial block at the end stays where it is.
    """
    whole = steps // BLOCK_STEPS
    order = rng.permutation(whole)  # new position of each block
    block = notes[:, 1] // BLOCK_STEPS
    moved = block < whole
    shift = np.zeros(len(notes), np.int64)
    shift[moved] = (order[block[moved]] - block[moved]) * BLOCK_STEPS
    out = notes.copy()
    out[:, 1] += shift
    out[:, 2] += shift
    return out


def shuffled_block_rolls(real: PreparedSet, seed: int) -> np.ndarray:
    """Each real roll with its 1-s blocks shuffled: real texture, no phrases.

    A note carried in at column 0 lands mid-roll with an onset; it gets the median velocity of the
    roll's struck notes, not the decoder's default, which would give it away for no musical reason.
    """
    rng = np.random.default_rng(seed)
    steps = real.rolls.shape[2]
    rolls = []
    for notes, struck in zip(real.notes, real.struck, strict=True):
        notes = notes.copy()
        if struck.any():
            notes[~struck, 3] = int(np.median(notes[struck, 3]))
        rolls.append(notes_to_roll(shuffle_blocks(notes, steps, rng), steps))
    return np.stack(rolls).reshape(len(rolls), spec.N_PITCHES, steps)


# --- classifiers ---------------------------------------------------------------------------------


def grouped_folds(labels: np.ndarray, groups: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) index pairs, stratified by label, no group on both sides of any split."""
    labels, groups = np.asarray(labels), np.asarray(groups)
    for label in np.unique(labels):
        pieces = len(np.unique(groups[labels == label]))
        if pieces < folds:
            raise ValueError(f"{folds} grouped folds need at least {folds} groups per set; "
                             f"set {label} has {pieces}")
    codes = np.unique(groups, return_inverse=True)[1]
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels, codes))


def _two_sets(real: np.ndarray, real_groups: np.ndarray, other: np.ndarray,
              other_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stacked inputs, labels (0 real, 1 other) and groups.

    A group name in both sets keeps those rolls on one side of every split together, as a shuffled
    roll must stay with its source; rolls that are each their own group need names of their own.
    """
    groups = np.concatenate([np.asarray(real_groups, dtype=str), np.asarray(other_groups, dtype=str)])
    labels = np.concatenate([np.zeros(len(real), np.int64), np.ones(len(other), np.int64)])
    return np.concatenate([real, other]), labels, groups


def boosted_accuracy(real: np.ndarray, real_groups: np.ndarray, other: np.ndarray, other_groups: np.ndarray,
                     folds: int = 5, seed: int = 0, on_fold: Callable[[], object] = lambda: None) -> FoldScores:
    """Held-out accuracy of gradient boosting telling feature rows `other` from `real`, over grouped folds."""
    x, y, groups = _two_sets(real, real_groups, other, other_groups)
    accuracies = []
    for train, test in grouped_folds(y, groups, folds, seed):
        with threadpool_limits(1, user_api="openmp"):  # two OpenMP threads on 2 busy cores ran 6-100x slower
            model = HistGradientBoostingClassifier(**BOOSTING, random_state=seed).fit(x[train], y[train])
            predicted = model.predict(x[test])
        accuracies.append(float(balanced_accuracy_score(y[test], predicted)))
        on_fold()
    return FoldScores(tuple(accuracies))


def cnn_input(rolls: np.ndarray) -> np.ndarray:
    """(n, 88, T, 2) float32: sounding and onset channels of the piano's rows of canonical rolls."""
    piano = np.asarray(rolls)[:, PIANO_ROWS]
    return np.stack([piano >= DEFAULT_THRESHOLD, piano >= ONSET_THRESHOLD], axis=-1).astype(np.float32)


def build_cnn(shape: tuple[int, int, int], settings: CnnSettings):
    """Conv + max-pool blocks, then a mean over time that keeps the pitch bands (register matters, where in
    the 37.5 s a figure falls does not), dropout and a sigmoid unit. Plain Keras 3: any backend."""
    import keras

    inputs = keras.Input(shape)
    x = inputs
    for i, filters in enumerate(settings.filters):
        stride = settings.first_stride if i == 0 else 1
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D(2, padding="same")(x)
    x = keras.layers.AveragePooling2D(pool_size=(1, x.shape[2]))(x)  # global pooling over time
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(settings.dropout)(x)
    outputs = keras.layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def cnn_accuracy(real: np.ndarray, real_groups: np.ndarray, other: np.ndarray, other_groups: np.ndarray,
                 folds: int = 5, seed: int = 0, settings: CnnSettings = DEFAULT_CNN,
                 on_fold: Callable[[], object] = lambda: None) -> FoldScores:
    """Held-out accuracy of the CNN telling canonical rolls `other` from `real`, over grouped folds.

    One network is built and compiled per call; every fold starts from the same seeded weights and a
    fresh optimizer state, so folds differ only in their data (and the call is traced once).
    """
    import keras

    x, y, groups = _two_sets(cnn_input(real), real_groups, cnn_input(other), other_groups)
    keras.utils.set_random_seed(seed)
    model = build_cnn(x.shape[1:], settings)
    model.compile(optimizer=keras.optimizers.Adam(settings.learning_rate), loss="binary_crossentropy")
    model.optimizer.build(model.trainable_variables)  # its state exists now, so each fold can reset it
    initial = model.get_weights()
    optimizer_initial = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    accuracies = []
    for fold, (train, test) in enumerate(grouped_folds(y, groups, folds, seed)):
        keras.utils.set_random_seed(seed + fold)
        model.set_weights(initial)
        for variable, value in zip(model.optimizer.variables, optimizer_initial, strict=True):
            variable.assign(value)
        model.fit(x[train], y[train].astype(np.float32), batch_size=settings.batch_size, epochs=settings.epochs,
                  shuffle=True, verbose=0)
        # Called eagerly in chunks: predict() would trace again for every fold's size of test set.
        chunks = [keras.ops.convert_to_numpy(model(x[test[i:i + 256]], training=False))
                  for i in range(0, len(test), 256)]
        predicted = np.concatenate(chunks)[:, 0] > 0.5
        accuracies.append(float(balanced_accuracy_score(y[test], predicted.astype(np.int64))))
        on_fold()
    return FoldScores(tuple(accuracies))


def feature_accuracy(real_rolls: np.ndarray, real_groups: Sequence[str], generated_rolls: np.ndarray,
                     folds: int = 5, seed: int = 0) -> tuple[float, float]:
    """(mean, sd) held-out accuracy of the musical-feature classifier, generated against real rolls.

    The fast one, for choosing checkpoints during training: 0.5 is the best a generator can reach.
    Generated rolls are each their own group; `real_groups` are the real rolls' source pieces.
    """
    real = prepare(real_rolls, real_groups)
    generated = prepare(generated_rolls, own_groups("generated", len(generated_rolls)))
    scores = boosted_accuracy(real.musical, real.groups, generated.musical, generated.groups, folds, seed)
    return scores.mean, scores.sd


def set_accuracies(real: PreparedSet, other: PreparedSet, folds: int = 5, seed: int = 0,
                   cnn: CnnSettings = DEFAULT_CNN, on_fold: Callable[[], object] = lambda: None,
                   timings: dict[str, float] | None = None) -> dict[str, FoldScores]:
    """All three classifiers on one set against the real one: {"features", "cnn", "dynamics"}.

    `timings`, when given, gets each classifier's seconds added to it.
    """
    jobs = {
        "features": lambda: boosted_accuracy(real.musical, real.groups, other.musical, other.groups, folds, seed,
                                             on_fold),
        "cnn": lambda: cnn_accuracy(real.rolls, real.groups, other.rolls, other.groups, folds, seed, cnn, on_fold),
        "dynamics": lambda: boosted_accuracy(real.dynamics, real.groups, other.dynamics, other.groups, folds, seed,
                                             on_fold),
    }
    scores = {}
    for name, job in jobs.items():
        started = time.perf_counter()
        scores[name] = job()
        if timings is not None:
            timings[name] = timings.get(name, 0.0) + time.perf_counter() - started
    return scores
