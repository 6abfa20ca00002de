"""Game-ready audio: seamless loops, loudness and true peak, formats with loop points (img2midi/audio.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import wav_loop
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis

from img2midi.audio import (
    BUNDLED_SOUNDFONT,
    FORMATS,
    VORBIS_GRID,
    encode,
    fit_length,
    fold_loop,
    grid_tempo,
    synthesize,
    write_track,
)
from img2midi.core import notes_to_midi
from img2midi.loudness import apply_gain, integrated_loudness, limiter_gain, mastering_gain, true_peak_db
from midi2img.spec import STEPS_PER_BEAT

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
        limited = apply_gain(audio * 4, limiter_gain(audio * 4, RATE, -3.0, circular))
        assert true_peak_db(limited, circular) <= -3.0 + 0.05
        mastered = apply_gain(audio, mastering_gain(audio, RATE, -16.0, -1.5, circular))
        assert abs(integrated_loudness(mastered, RATE) - -16.0) < 0.1
        assert true_peak_db(mastered, circular) <= -1.5 + 0.05


def stereo_piano_like(seconds: float) -> np.ndarray:
    return np.stack([piano_like(seconds, seed=0), 0.7 * piano_like(seconds, seed=1)], axis=1)


@pytest.mark.parametrize("audio_format", list(FORMATS))
@pytest.mark.parametrize("region", [(0, 6 * RATE), (RATE, 4 * RATE)])
def test_written_tracks_decode_at_the_loudness_with_loop_points(tmp_path, audio_format, region):
    path = tmp_path / f"loop.{audio_format}"
    measured, gain = write_track(stereo_piano_like(6), path, RATE, audio_format, -16.0, loop=region)
    decoded, rate = soundfile.read(path, dtype="float64")
    assert rate == RATE and decoded.shape == (6 * RATE, 2) and gain.shape == (6 * RATE,)
    assert abs(integrated_loudness(decoded, rate) - -16.0) <= 0.5 and true_peak_db(decoded) <= -1.0
    assert measured.true_peak_db == pytest.approx(true_peak_db(decoded))
    start, length = region
    if audio_format == "wav":
        assert wav_loop(path) == (start, start + length - 1)
    else:
        tags = OggVorbis(path) if audio_format == "ogg" else FLAC(path)
        assert (tags["LOOPSTART"], tags["LOOPLENGTH"]) == ([str(start)], [str(length)])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize(("bpm", "n_steps", "rate"), [(120, 480, 44100), (72, 64, 48000), (133.3, 7, 22050)])
def test_grid_tempo_makes_the_loop_whole_vorbis_blocks_at_nearly_the_same_tempo(bpm, n_steps, rate):
    nudged = grid_tempo(bpm, n_steps, rate)
    samples = n_steps * 60 / (nudged * STEPS_PER_BEAT) * rate
    assert samples == pytest.approx(round(samples / VORBIS_GRID) * VORBIS_GRID, abs=1e-6)
    assert abs(nudged / bpm - 1) <= VORBIS_GRID / 2 / (n_steps * 60 / (bpm * STEPS_PER_BEAT) * rate) + 1e-12


def residual_dbfs(a: np.ndarray, b: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean((a - b) ** 2)))


def test_ogg_parts_cut_on_the_vorbis_grid_decode_as_the_whole_file_does(tmp_path):
    """Why framed pieces are laid on VORBIS_GRID: off it, each part is coded differently throughout."""
    audio = stereo_piano_like(12)

    def coded(samples: np.ndarray, name: str) -> np.ndarray:
        encode(samples, tmp_path / name, RATE, "ogg")
        return soundfile.read(tmp_path / name)[0]

    whole = coded(audio, "whole.ogg")
    on_grid, off_grid = 4 * RATE // VORBIS_GRID * VORBIS_GRID, 4 * RATE // VORBIS_GRID * VORBIS_GRID + 37
    joined = {cut: np.concatenate([coded(audio[:cut], "a.ogg"), coded(audio[cut:], "b.ogg")])
              for cut in (on_grid, off_grid)}
    assert residual_dbfs(joined[on_grid], whole) < -60 < residual_dbfs(joined[off_grid], whole)


def test_a_mix_gain_given_to_its_stems_makes_them_sum_to_the_mix(tmp_path):
    stems = [stereo_piano_like(4) * weight for weight in (0.5, 0.3, 0.2)]
    _, gain = write_track(sum(stems), tmp_path / "mix.wav", RATE, "wav", -16.0)
    for i, stem in enumerate(stems):
        write_track(stem, tmp_path / f"stem{i}.wav", RATE, "wav", -16.0, gain=gain)
    mix = soundfile.read(tmp_path / "mix.wav")[0]
    total = sum(soundfile.read(tmp_path / f"stem{i}.wav")[0] for i in range(3))
    assert 20 * np.log10(np.sqrt(np.mean((total - mix) ** 2)) / np.sqrt(np.mean(mix ** 2))) < -60


def test_the_limiter_gives_both_channels_one_gain():
    audio = stereo_piano_like(4) * 4
    limited = apply_gain(audio, limiter_gain(audio, RATE, -3.0))
    assert true_peak_db(limited) <= -3.0 + 0.05
    ratio = limited / np.where(audio == 0, 1, audio)
    loud = np.abs(audio).min(axis=1) > 1e-3
    np.testing.assert_allclose(ratio[loud, 0], ratio[loud, 1], rtol=1e-9)  # the stereo image stays put


def test_synthesis_is_stereo_and_its_left_channel_is_pretty_midis_rendering():
    pm = notes_to_midi(np.array([[60, 0, 8, 90], [64, 4, 12, 70], [67, 4, 16, 100]]), 120)
    stereo = synthesize(pm, BUNDLED_SOUNDFONT, 22050)
    mono = synthesize(pm, BUNDLED_SOUNDFONT, 22050, channels=1)
    reference = pm.fluidsynth(fs=22050, synthesizer=str(BUNDLED_SOUNDFONT), normalize=False)
    assert stereo.shape == (len(reference), 2) and mono.shape == (len(reference), 1)
    np.testing.assert_array_equal(stereo[:, 0], reference)  # so a loop's seam, chosen on it, is what it was
    np.testing.assert_allclose(mono[:, 0], stereo.mean(axis=1))
