"""Music statistics of piano rolls and scores that compare two sets of rolls. Pure numpy: rolls in, numbers out.

A roll is a (106, T) uint8 image in the shared format. It is read the way
`sample` plays it: pixels at or above the decoding threshold sound, and
`roll_to_notes` splits them into notes. Every statistic covers the whole image,
silence included (muspy's equivalents stop at the last note). Time is in
seconds at the tempo `sample` writes by default (120 bpm, so 0.125 s a step).

An empty roll gets 0 for every statistic rather than NaN, so that a generator
that draws silence scores badly instead of dropping out of the averages.
"""

from __future__ import annotations

import numpy as np

from img2midi.core import DEFAULT_THRESHOLD, roll_to_notes
from img2midi.scales import MAJOR_SCALE, MINOR_SCALE
from midi2img.spec import LOWEST_PITCH, N_PITCHES, STEPS_PER_BEAT, pitch_class_histogram

SECONDS_PER_STEP = 60.0 / (120.0 * STEPS_PER_BEAT)

STATISTICS = (
    "onsets_per_second",  # notes started per second
    "mean_note_seconds",  # mean note length
    "polyphony",  # mean number of sounding pitches over the steps where anything sounds
    "polyphony_rate",  # share of steps with more than 2 sounding pitches
    "silent_rate",  # share of steps where nothing sounds
    "pitch_range",  # highest minus lowest pitch played, semitones
    "pitch_class_entropy",  # entropy of the notes' pitch-class histogram, bits (0 to log2 12 = 3.58)
    "scale_consistency",  # largest share of notes inside one of the 24 major and natural minor scales
)

# 24 rows (12 major keys, then 12 minor keys) x 12 pitch classes: True where the pitch class is in the scale.
SCALES = np.zeros((24, 12), dtype=bool)
for _tonic in range(12):
    SCALES[_tonic, (np.array(MAJOR_SCALE) + _tonic) % 12] = True
    SCALES[12 + _tonic, (np.array(MINOR_SCALE) + _tonic) % 12] = True

PITCH_BAND = 6  # semitones per bin of the pitch histogram feature...
N_BANDS = -(-N_PITCHES // PITCH_BAND)  # ...18 bins over the 106 image rows
# Note-length histogram bins, in steps: 1, 2, 3-4, 5-8, 9-16, 17-32, 33 and longer.
LENGTH_EDGES = np.array([1, 2, 3, 5, 9, 17, 33, np.iinfo(np.int64).max])


def pitch_class_shares(notes: np.ndarray) -> np.ndarray:
    """Share of notes on each of the 12 pitch classes (all zero for no notes)."""
    counts = pitch_class_histogram(notes)
    return counts / max(counts.sum(), 1.0)


def roll_statistics(roll: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """The STATISTICS of one roll, in that order."""
    return _statistics(np.asarray(roll), roll_to_notes(roll, threshold), threshold)


def _statistics(roll: np.ndarray, notes: np.ndarray, threshold: int) -> np.ndarray:
    steps = roll.shape[1]
    sounding = (roll >= threshold).sum(axis=0)
    any_sound = sounding > 0
    stats = np.zeros(len(STATISTICS))
    stats[0] = len(notes) / (steps * SECONDS_PER_STEP)
    stats[3] = np.mean(sounding > 2)
    stats[4] = 1.0 - np.mean(any_sound)
    if len(notes):
        classes = pitch_class_shares(notes)
        present = classes[classes > 0]
        stats[1] = np.mean(notes[:, 2] - notes[:, 1]) * SECONDS_PER_STEP
        stats[2] = sounding[any_sound].mean()
        stats[5] = notes[:, 0].max() - notes[:, 0].min()
        stats[6] = -np.sum(present * np.log2(present))
        stats[7] = (SCALES @ classes).max()
    return stats


def roll_features(roll: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """One roll's feature vector for the Frechet distance and diversity.

    Pitch histogram (18 bands of 6 semitones), pitch-class histogram (12), note-length
    histogram (7 bins), all as shares of the notes, then the STATISTICS.
    """
    roll = np.asarray(roll)
    notes = roll_to_notes(roll, threshold)
    count = max(len(notes), 1)
    bands = np.bincount((notes[:, 0] - LOWEST_PITCH) // PITCH_BAND, minlength=N_BANDS) / count
    lengths = np.histogram(notes[:, 2] - notes[:, 1], bins=LENGTH_EDGES)[0] / count
    return np.concatenate([bands, pitch_class_shares(notes), lengths, _statistics(roll, notes, threshold)])


def features(rolls: np.ndarray, threshold: int = DEFAULT_THRESHOLD) -> np.ndarray:
    """(n, 106, T) rolls -> (n, F) feature matrix; its last len(STATISTICS) columns are the statistics."""
    return np.stack([roll_features(roll, threshold) for roll in rolls])


def statistics_of(feature_matrix: np.ndarray) -> np.ndarray:
    """The STATISTICS columns of a feature matrix."""
    return feature_matrix[:, -len(STATISTICS):]


class Standardizer:
    """Scales features by the real set's mean and sd, so every feature counts alike in distances.

    A feature that never varies in the real set (say, notes above the piano's top key) keeps
    its raw units rather than being divided by zero.
    """

    def __init__(self, real: np.ndarray):
        self.mean = real.mean(axis=0)
        sd = real.std(axis=0)
        self.sd = np.where(sd > 1e-9, sd, 1.0)

    def __call__(self, feature_matrix: np.ndarray) -> np.ndarray:
        return (feature_matrix - self.mean) / self.sd


def frechet_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature matrices, standardized on `real`."""
    scale = Standardizer(real)
    a, b = scale(real), scale(generated)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr sqrt(A B) = sum of sqrt(eigenvalues of sqrt(A) B sqrt(A)), a symmetric matrix: stable even
    # though the histograms' shares sum to one and so leave the covariances singular.
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    trace_root = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)))
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_root
    return float(max(distance, 0.0))


def histogram_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Shared area of two histograms normalized to sum 1: 1 identical, 0 disjoint."""
    a, b = a / max(a.sum(), 1e-12), b / max(b.sum(), 1e-12)
    return float(np.minimum(a, b).sum())


def mean_pairwise_distance(points: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows."""
    squared = np.sum(points**2, axis=1)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2.0 * points @ points.T, 0.0)
    n = len(points)
    return float(np.sqrt(d2)[~np.eye(n, dtype=bool)].mean()) if n > 1 else 0.0


def nearest_jaccard_distance(queries: np.ndarray, references: np.ndarray, threshold: int = DEFAULT_THRESHOLD,
                             chunk: int = 1024) -> np.ndarray:
    """For each query roll, 1 - |A and B| / |A or B| of sounding pixels to its closest reference roll.

    0 means an exact copy of some reference's notes; density-independent, unlike a pixel
    distance, so a sparse roll is not 'close' to everything sparse.
    """
    q = (queries.reshape(len(queries), -1) >= threshold).astype(np.float32)
    q_sizes = q.sum(axis=1)
    best = np.ones(len(q))
    for start in range(0, len(references), chunk):
        r = (references[start:start + chunk].reshape(-1, q.shape[1]) >= threshold).astype(np.float32)
        overlap = q @ r.T
        union = q_sizes[:, None] + r.sum(axis=1)[None, :] - overlap
        distance = np.where(union > 0, 1.0 - overlap / np.maximum(union, 1.0), 0.0)
        best = np.minimum(best, distance.min(axis=1))
    return best
