"""Loudness for game audio: integrated loudness (ITU-R BS.1770, via pyloudnorm), true peak, a limiter. No I/O.

Game engines and streaming services expect music at a set integrated loudness with
headroom for the codec: here -16 LUFS and at most -1 dBTP. Piano attacks are far
above a piece's average loudness, so bringing a quiet piece up to -16 LUFS can push
its peaks past -1 dBTP; a look-ahead limiter then lowers the gain around those peaks only.
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
from scipy.ndimage import maximum_filter1d, minimum_filter1d, uniform_filter1d
from scipy.signal import resample_poly

TRUE_PEAK_OVERSAMPLING = 4  # BS.1770-4 Annex 2: 4x oversampling finds inter-sample peaks at 44.1/48 kHz
PAD, BLOCK = 64, 1 << 20  # samples of context around each block of true-peak oversampling, block length
LIMITER_SECONDS = 0.02  # the limiter's gain dips begin this long before a peak and recover as long after it
MASTER_ROUNDS = 8  # gain-and-limit rounds; two or three suffice unless nearly every attack needs limiting
MIN_GAIN_DB = -40.0  # a piece never needs more than this much gain change; more means near-silence


def db(value: float) -> float:
    return float(20 * np.log10(value)) if value > 0 else float("-inf")


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness in LUFS (-inf for silence or audio shorter than one 400 ms block)."""
    audio = np.asarray(audio, np.float64)
    if len(audio) < int(0.4 * sample_rate) or not np.any(audio):
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio))


def true_peak_envelope(audio: np.ndarray, circular: bool = False) -> np.ndarray:
    """Per sample, the largest |level| of the 4x-oversampled signal around it (a loop wraps at its ends).

    (samples,) or (samples, channels) audio; with channels, the largest over them, so that one
    gain serves all channels and the stereo image stays where it was. Oversampled a block at a
    time (with PAD samples of context either side, far more than the interpolation filter
    reaches), so an hour of audio never needs four hours' worth of memory.
    """
    audio = np.asarray(audio, np.float64)
    if audio.ndim == 2:
        return np.max([true_peak_envelope(channel, circular) for channel in audio.T], axis=0, initial=0.0)
    if circular and len(audio):  # the loop's own end before its start and its start after its end
        before, after = np.resize(audio[::-1], PAD)[::-1], np.resize(audio, PAD)
    else:
        before = after = np.zeros(PAD)
    padded = np.concatenate([before, audio, after])
    envelope = np.empty(len(audio))
    for start in range(0, len(audio), BLOCK):
        stop = min(start + BLOCK, len(audio))
        oversampled = np.abs(resample_poly(padded[start:stop + 2 * PAD], TRUE_PEAK_OVERSAMPLING, 1))
        around = maximum_filter1d(oversampled, size=2 * TRUE_PEAK_OVERSAMPLING - 1)
        envelope[start:stop] = around[::TRUE_PEAK_OVERSAMPLING][PAD:PAD + stop - start]
    return envelope


def true_peak_db(audio: np.ndarray, circular: bool = False) -> float:
    """True peak in dBTP: the maximum of the 4x-oversampled signal."""
    return db(float(true_peak_envelope(audio, circular).max())) if len(audio) else float("-inf")


def apply_gain(audio: np.ndarray, gain: np.ndarray | float) -> np.ndarray:
    """Audio times a per-sample gain (or one number), every channel alike."""
    audio = np.asarray(audio, np.float64)
    gain = np.asarray(gain, np.float64)
    return audio * (gain[:, None] if audio.ndim == 2 and gain.ndim == 1 else gain)


def limiter_gain(audio: np.ndarray, sample_rate: int, ceiling_db: float, circular: bool = False) -> np.ndarray:
    """Per-sample gain that keeps the true peak under ceiling_db, dipping smoothly only around louder peaks.

    The gain a sample needs is the minimum over +-LIMITER_SECONDS around it, then averaged
    twice over half that span: the resulting triangle-smoothed gain is never above what any
    sample needs (each average only mixes minima that already include that sample), and it
    changes gradually, so the limiter adds no clicks. Offline and zero-phase: it looks ahead
    as far as it looks back. A loop's gain wraps around its ends like the music does.
    """
    ceiling = 10 ** (ceiling_db / 20)
    envelope = true_peak_envelope(audio, circular)
    needed = np.minimum(1.0, ceiling / np.maximum(envelope, 1e-12))
    if needed.min() >= 1.0:
        return np.ones(len(needed))
    quarter = max(1, int(LIMITER_SECONDS * sample_rate) // 2)
    mode = "wrap" if circular else "nearest"
    gain = minimum_filter1d(needed, size=4 * quarter + 1, mode=mode)
    for _ in range(2):  # odd, centred windows: together they reach exactly as far as the minimum did
        gain = uniform_filter1d(gain, size=2 * quarter + 1, mode=mode)
    return gain


def mastering_gain(audio: np.ndarray, sample_rate: int, target_lufs: float, ceiling_db: float,
                   circular: bool = False) -> np.ndarray:
    """Per-sample gain that brings audio to target_lufs (within 0.1 LU) with its true peak under ceiling_db.

    Gain to the target, limit, measure again, repeat: the limiter takes a little loudness
    back each time. Silence stays silence (gain 1). A gain rather than the audio, so that the
    stems of a piece can be given exactly the gain their mix was given.
    """
    original = np.asarray(audio, np.float64)
    gain = np.ones(len(original))
    audio = original
    loudness = integrated_loudness(audio, sample_rate)
    for _ in range(MASTER_ROUNDS):
        if not np.isfinite(loudness):
            break
        gain_db = float(np.clip(target_lufs - loudness, MIN_GAIN_DB, -MIN_GAIN_DB))
        gain = gain * 10 ** (gain_db / 20)
        gain = gain * limiter_gain(apply_gain(original, gain), sample_rate, ceiling_db, circular)
        audio = apply_gain(original, gain)
        loudness = integrated_loudness(audio, sample_rate)
        if abs(loudness - target_lufs) < 0.1:
            break
    return gain

