"""Differentiable musical statistics of whole rolls, and the feature-matching loss built on them.

The two-sample test (`model.twosample`) tells a generator from a pianist by what a musician hears
in a whole roll: how many notes start a second, how long they last, how many sound at once, the
key, the register, repetition, dynamics. A convolutional discriminator learns such whole-roll
properties slowly, so a generator can miss them by far and still fool it. Here they are written in
Keras ops on the generator's snapped output, so the generator can be asked directly to match
their joint distribution over real rolls: a maximum mean discrepancy (MMD; Li et al. 2015,
"Generative Moment Matching Networks") between the statistics of a generated batch and those of
a bank of real rolls. It is one more loss term for G, beside D's verdict; D is unchanged.

Indicators (sounding, onset) are exact on the snapped levels and pass a straight-through slope,
so every statistic has a value a musician would read and a gradient.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from midi2img.spec import (
    ONSET_MIN_LEVEL,
    PIANO_HIGHEST,
    PIANO_LOWEST,
    STEPS_PER_BEAT,
    SUSTAIN_LEVEL,
    pitch_to_row,
)
from model.data import pixels_to_tanh

PIANO_TOP_ROW = int(pitch_to_row(PIANO_HIGHEST))  # 18: rows above it never sound
PIANO_KEYS = PIANO_HIGHEST - PIANO_LOWEST + 1
SILENCE, SUSTAIN, ONSET_LOW = (float(pixels_to_tanh(level)) for level in (0, SUSTAIN_LEVEL, ONSET_MIN_LEVEL))
BAND = 8  # semitones per register band
LENGTHS = (2, 4, 8, 16)  # share of notes lasting at least this many steps
ONSET_LAGS = tuple(STEPS_PER_BEAT * b for b in (1, 2, 3, 4, 6, 8))  # onset-count autocorrelation
CHROMA_LAGS = (1, 2, 4, 8)  # beats: pitch-class repetition
BLOCK = 2 * STEPS_PER_BEAT  # onset density per 2-beat block
# Floors that keep every slope bounded where a roll is nearly silent or flat: a share divides by at
# least this many onsets or sounding pixels (a real roll has about 355 and 1,500), a square root or a
# correlation adds these.
ONSET_FLOOR, SOUNDING_FLOOR = 16.0, 64.0
EPSILON = 1e-3
CORRELATION_EPSILON = 1e-2

_PITCHES = np.arange(PIANO_HIGHEST, PIANO_LOWEST - 1, -1)  # row order: highest first
_CLASSES = np.eye(12, dtype="float32")[_PITCHES % 12]  # (88, 12)
_BANDS = np.eye((PIANO_KEYS + BAND - 1) // BAND, dtype="float32")[(_PITCHES - PIANO_LOWEST) // BAND]  # (88, 11)
_PITCH_UNITS = ((_PITCHES - 60) / 12.0).astype("float32")  # octaves from middle C
# Krumhansl-Kessler key profiles, all 24 keys, z-scored: a dot product with z-scored shares / 12 is Pearson's r.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
_KEYS = np.stack([np.roll(p, k) for p in (_MAJOR, _MINOR) for k in range(12)])
_KEYS_Z = ((_KEYS - _KEYS.mean(1, keepdims=True)) / _KEYS.std(1, keepdims=True)).T.astype("float32")  # (12, 24)

NAMES = (
    *(f"pitch_class_{k}" for k in range(12)),
    *(f"band_{b}" for b in range(_BANDS.shape[1])),
    "density", "onsets_per_step", "onsets_per_sounding", "polyphony_mean", "polyphony_sd", "silent_steps",
    "onset_steps", "chord_share", "on_beat_share", "off_beat_eighth_share", "block_onsets_cv",
    "mean_pitch", "pitch_sd", "velocity_mean", "velocity_sd", "key_clarity",
    *(f"interval_class_{k}" for k in range(1, 7)),
    *(f"length_at_least_{n}" for n in LENGTHS),
    *(f"onset_autocorrelation_{lag}" for lag in ONSET_LAGS),
    *(f"chroma_repetition_{lag}" for lag in CHROMA_LAGS),
)


def _indicator(x, low: float, high: float):
    """1 where x is nearer `high` than `low` (two adjacent pixel levels), else 0; its slope is the line's between them.

    Straight through (Bengio et al. 2013): the value is exact, and the gradient is 1 / (high - low) at
    every x, so a statistic pulls on every pixel, not only on those near an edge.
    """
    line = (x - low) / (high - low)
    hard = ops.cast(x >= (low + high) / 2, x.dtype)
    return hard + line - ops.stop_gradient(line)


def _shift(x, steps: int):
    """x moved `steps` later along time (axis 2), zeros coming in."""
    return ops.pad(x[:, :, :-steps], ((0, 0), (0, 0), (steps, 0)))


def _sd(x, axis):
    """Standard deviation whose slope stays finite where x is flat (a silent roll): sqrt(var + EPSILON)."""
    return ops.sqrt(ops.var(x, axis=axis) + EPSILON)


def _correlation(a, b):
    """Pearson correlation along the last axis, 0 where either side is flat."""
    a = a - ops.mean(a, axis=-1, keepdims=True)
    b = b - ops.mean(b, axis=-1, keepdims=True)
    return ops.sum(a * b, axis=-1) / ops.sqrt(ops.sum(a * a, axis=-1) * ops.sum(b * b, axis=-1) + CORRELATION_EPSILON)


def roll_statistics(rolls):
    """(batch, 106, T, 1) rolls in the tanh range -> (batch, len(NAMES)) float32 statistics, one row a roll."""
    x = ops.cast(rolls[:, PIANO_TOP_ROW:, :, 0], "float32")  # (batch, 88, T), highest key first
    steps = x.shape[2]
    sounding = _indicator(x, SILENCE, SUSTAIN)
    onset = _indicator(x, SUSTAIN, ONSET_LOW)
    velocity = ops.clip((x - ONSET_LOW) / (1.0 - ONSET_LOW), 0.0, 1.0)  # 0 softest .. 1 loudest, on onsets

    sounding_total = ops.maximum(ops.sum(sounding, axis=(1, 2)), SOUNDING_FLOOR)
    onset_total = ops.maximum(ops.sum(onset, axis=(1, 2)), ONSET_FLOOR)
    per_key = ops.sum(sounding, axis=2)  # (batch, 88)
    classes = ops.matmul(per_key, _CLASSES) / sounding_total[:, None]
    bands = ops.matmul(per_key, _BANDS) / sounding_total[:, None]

    voices = ops.sum(sounding, axis=1)  # (batch, T): keys sounding at each step
    starts = ops.sum(onset, axis=1)  # (batch, T): notes starting at each step
    beat = np.arange(steps) % STEPS_PER_BEAT
    on_beat, off_beat_eighth = (beat == 0).astype("float32"), (beat == 2).astype("float32")
    blocks = ops.sum(ops.reshape(starts[:, :steps - steps % BLOCK], (-1, steps // BLOCK, BLOCK)), axis=2)

    onsets_per_key = ops.sum(onset, axis=2)  # (batch, 88)
    mean_pitch = ops.matmul(onsets_per_key, _PITCH_UNITS[:, None])[:, 0] / onset_total
    pitch_sd = ops.sqrt(ops.relu(ops.matmul(onsets_per_key, (_PITCH_UNITS ** 2)[:, None])[:, 0] / onset_total
                                 - mean_pitch ** 2) + EPSILON)
    velocity_mean = ops.sum(onset * velocity, axis=(1, 2)) / onset_total
    velocity_sd = ops.sqrt(ops.sum(onset * (velocity - velocity_mean[:, None, None]) ** 2, axis=(1, 2))
                           / onset_total + EPSILON)

    # The best key's covariance with the shares (not a correlation: dividing by the shares' sd would make
    # the slope unbounded for a roll that uses all twelve pitch classes alike).
    key_clarity = ops.max(ops.matmul(classes, _KEYS_Z), axis=1)

    chroma = ops.minimum(ops.einsum("bkt,kc->bct", sounding, _CLASSES), 1.0)  # (batch, 12, T)
    pairs = [ops.sum(chroma * ops.roll(chroma, -k, axis=1), axis=(1, 2)) for k in range(1, 7)]
    pairs[5] = pairs[5] / 2.0  # a tritone pair is counted from both ends
    pairs = ops.stack(pairs, axis=1)
    intervals = pairs / (ops.sum(pairs, axis=1, keepdims=True) + 1.0)

    held = sounding * (1.0 - onset)  # a note's later steps
    lasting, run = [], onset
    for length in range(2, max(LENGTHS) + 1):
        run = _shift(run, 1) * held  # a note in its `length`-th step
        if length in LENGTHS:
            lasting.append(ops.sum(run, axis=(1, 2)) / onset_total)

    autocorrelation = [_correlation(starts[:, :-lag], starts[:, lag:]) for lag in ONSET_LAGS]
    beats = steps // STEPS_PER_BEAT
    beat_chroma = ops.sum(ops.reshape(ops.einsum("bkt,kc->bct", onset, _CLASSES)[:, :, :beats * STEPS_PER_BEAT],
                                      (-1, 12, beats, STEPS_PER_BEAT)), axis=3)  # (batch, 12, beats)
    unit = beat_chroma / ops.sqrt(ops.sum(beat_chroma ** 2, axis=1, keepdims=True) + CORRELATION_EPSILON)
    repetition = [ops.mean(ops.sum(unit[:, :, :-lag] * unit[:, :, lag:], axis=1), axis=1) for lag in CHROMA_LAGS]

    columns = [
        classes, bands,
        ops.stack([
            sounding_total / (PIANO_KEYS * steps),
            onset_total / steps,
            onset_total / sounding_total,
            ops.mean(voices, axis=1),
            _sd(voices, axis=1),
            ops.mean(ops.relu(1.0 - voices), axis=1),
            ops.mean(ops.minimum(starts, 1.0), axis=1),
            ops.sum(ops.relu(starts - 1.0), axis=1) / onset_total,
            ops.sum(starts * on_beat, axis=1) / onset_total,
            ops.sum(starts * off_beat_eighth, axis=1) / onset_total,
            _sd(blocks, axis=1) / ops.maximum(ops.mean(blocks, axis=1), 1.0),
            mean_pitch, pitch_sd, velocity_mean, velocity_sd, key_clarity,
        ], axis=1),
        intervals,
        ops.stack(lasting + autocorrelation + repetition, axis=1),
    ]
    return ops.concatenate(columns, axis=1)


def standardizer(statistics: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of a bank of real rolls' statistics, for `standardize`; flat statistics get scale 1."""
    mean, sd = statistics.mean(axis=0), statistics.std(axis=0)
    return mean.astype("float32"), np.where(sd > 1e-6, sd, 1.0).astype("float32")


def standardize(statistics, standardizer: tuple[np.ndarray, np.ndarray]):
    """z-scores, compressed by asinh: a statistic real rolls barely vary (notes above C7) cannot swamp the rest."""
    mean, scale = standardizer
    return ops.arcsinh((statistics - mean) / scale)


def _kernel(a, b, scales: tuple[float, ...]):
    """Sum of inverse multiquadric kernels c / (c + |a - b|^2) between every row of a and every row of b.

    Heavy-tailed (Tolstikhin et al. 2018): far from the real rolls, where a fresh generator starts, a
    Gaussian kernel's slope vanishes and this one's does not.
    """
    distances = (ops.sum(a * a, axis=1)[:, None] + ops.sum(b * b, axis=1)[None, :]
                 - 2.0 * ops.matmul(a, ops.transpose(b)))
    return sum(scale / (scale + ops.relu(distances)) for scale in scales)


def feature_mmd(generated, real):
    """Squared MMD between standardized statistics of generated rolls and of real ones (rows are rolls).

    Kernels at several widths, set by the dimension (two standardized real rolls lie about sqrt(2 d)
    apart), so that both gross and fine differences pull. Unbiased within each set.
    """
    dimension = float(generated.shape[1])
    scales = tuple(s * 2.0 * dimension for s in (0.25, 1.0, 4.0))
    n, m = generated.shape[0], real.shape[0]
    within_generated = (ops.sum(_kernel(generated, generated, scales)) - len(scales) * n) / (n * (n - 1))
    within_real = (ops.sum(_kernel(real, real, scales)) - len(scales) * m) / (m * (m - 1))
    across = ops.mean(_kernel(generated, real, scales))
    return within_generated + within_real - 2.0 * across
