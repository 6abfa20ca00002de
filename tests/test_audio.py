"""Game-ready audio: seamless loops, loudness and true peak, formats with loop points (img2midi/audio.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis

from img2midi.audio import FORMATS, fit_length, fold_loop, write_track
from img2midi.loudness import integrated_loudness, limit, master, true_peak_db

REPO = Path(__file__).resolve().parents[1]
RATE = 44100


def piano_like(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Sharp attacks with exponential decays at random times and pitches: a piano's crest factor."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    audio = np.zeros_like(t)
    for onset in rng.uniform(0, seconds, int(seconds * 3)):
        u = np.clip(t - onset, 0, None)
        audio += (t >= onset) * rng.uniform(0.05, 0.4) * np.exp(-3 * u) * np.sin(2 * np.pi * rng.uniform(110, 880) * u)
    return audio


def test_fold_loop_is_the_music_played_without_end():
    rng = np.random.default_rng(0)
    one_round, length = rng.standard_normal(2500), 1000  # renders run past the loop's end
    folded = fold_loop(one_round, length)
    endless = np.zeros(10 * length)
    for k in range(10):  # the same round started every `length` samples
        part = endless[k * length:k * length + len(one_round)]
        part += one_round[:len(part)]
    np.testing.assert_allclose(folded, endless[5 * length:6 * length])
    ending = fit_length(one_round, 3000, RATE)
    assert len(ending) == 3000 and ending[-1] == 0


def test_limiter_keeps_true_peak_under_the_ceiling_and_master_hits_the_loudness():
    audio = piano_like(8)
    for circular in (False, True):
        limited = limit(audio * 4, RATE, -3.0, circular)
        assert true_peak_db(limited, circular) <= -3.0 + 0.05
        mastered = master(audio, RATE, -16.0, -1.5, circular)
        assert abs(integrated_loudness(mastered, RATE) - -16.0) < 0.1
        assert true_peak_db(mastered, circular) <= -1.5 + 0.05


@pytest.mark.parametrize("audio_format", list(FORMATS))
def test_written_tracks_decode_at_the_loudness_with_loop_points(tmp_path, audio_format):
    path = tmp_path / f"loop.{audio_format}"
    measured = write_track(piano_like(6), path, RATE, audio_format, -16.0, loop=True)
    decoded, rate = soundfile.read(path, dtype="float64")
    assert rate == RATE and len(decoded) == 6 * RATE
    assert abs(integrated_loudness(decoded, rate) - -16.0) <= 0.5 and true_peak_db(decoded) <= -1.0
    assert measured.true_peak_db == pytest.approx(true_peak_db(decoded))
    if audio_format != "wav":
        tags = OggVorbis(path) if audio_format == "ogg" else FLAC(path)
        assert (tags["LOOPSTART"], tags["LOOPLENGTH"]) == (["0"], [str(6 * RATE)])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
