"""Render MIDI to a WAV file with fluidsynth, for listening and for game audio folders."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pretty_midi

from midi2img.atomic import atomic_path

DEFAULT_SOUNDFONT = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
PEAK = 10 ** (-1 / 20)  # -1 dBFS, headroom for lossy encoders and resampling


def synthesize(pm: pretty_midi.PrettyMIDI, soundfont: Path | None = None, sample_rate: int = 44100,
               min_seconds: float = 0.0) -> np.ndarray:
    """Mono float32 audio peaking at -1 dBFS, at least `min_seconds` long (silence padded)."""
    soundfont = Path(soundfont or DEFAULT_SOUNDFONT)
    if not soundfont.is_file():
        raise SystemExit(f"sample: soundfont {soundfont} not found")
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; fails when the shared library is missing)
    except ImportError as error:
        raise SystemExit(f"sample: cannot render WAV, fluidsynth is unavailable ({error}); "
                         "run `make setup` or install libfluidsynth") from None
    audio = pm.fluidsynth(fs=sample_rate, sf2_path=str(soundfont)) if pm.instruments else np.zeros(0)
    audio = np.pad(audio, (0, max(0, int(round(min_seconds * sample_rate)) - len(audio))))
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak > 0:
        audio = audio * (PEAK / peak)
    return audio.astype(np.float32)


def write_wav_atomic(audio: np.ndarray, path: Path, sample_rate: int = 44100) -> None:
    """16-bit PCM mono WAV, written to a temporary file and renamed into place."""
    pcm = np.clip(np.rint(audio * 32767), -32768, 32767).astype("<i2")
    with atomic_path(Path(path)) as tmp, wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(pcm.tobytes())
