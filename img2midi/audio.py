"""Render MIDI to game-ready audio: fluidsynth synthesis, seamless loops, loudness, WAV/OGG/FLAC with loop points."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile

from img2midi.core import notes_to_midi
from img2midi.loudness import integrated_loudness, master, true_peak_db
from midi2img.atomic import atomic_path
from midi2img.spec import STEPS_PER_BEAT

DEFAULT_SOUNDFONT = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"
FORMATS = {"wav": ("WAV", "PCM_16"), "ogg": ("OGG", "VORBIS"), "flac": ("FLAC", "PCM_16")}
VORBIS_QUALITY = 0.6  # libvorbis -q 6 (about 192 kbit/s stereo, less for mono): transparent for solo piano
TRUE_PEAK_LIMIT_DB = -1.0  # the most a file may peak, measured on what a player decodes
# libvorbis allocates its analysis buffer on the stack, sized by the frames passed in one call, and
# crashes on long ones (libsndfile issue #1095, python-soundfile #233, #426): write in blocks.
WRITE_BLOCK_FRAMES = 1 << 15
FADE_OUT_SECONDS = 0.05  # the end of a piece that is not a loop reaches zero instead of stopping mid-wave
SEAM_WINDOW_SECONDS = 0.1  # a loop's seam is put where the 100 ms before and after sound alike
SEAM_SAMPLE_RATE = 44100  # the reference rendering the seam is chosen on (the default rate: usually reused)


@dataclass(frozen=True)
class Loudness:
    """What the written file measures when decoded."""

    lufs: float
    true_peak_db: float


def synthesize(pm: pretty_midi.PrettyMIDI, soundfont: Path | None = None, sample_rate: int = 44100) -> np.ndarray:
    """Mono float64 audio of the MIDI with fluidsynth, unnormalized; it runs about a second past the last note-off."""
    soundfont = Path(soundfont or DEFAULT_SOUNDFONT)
    if not soundfont.is_file():
        raise SystemExit(f"sample: soundfont {soundfont} not found")
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; fails when the shared library is missing)
    except ImportError as error:
        raise SystemExit(f"sample: cannot render audio, fluidsynth is unavailable ({error}); "
                         "run `make setup` or install libfluidsynth") from None
    if not any(instrument.notes for instrument in pm.instruments):
        return np.zeros(0)
    return np.asarray(pm.fluidsynth(fs=sample_rate, synthesizer=str(soundfont), normalize=False), np.float64)


def fold_loop(audio: np.ndarray, length: int) -> np.ndarray:
    """The `length` samples a loop repeats: everything rendered past the end is added onto the start.

    The notes still ringing at the loop point then carry on at sample 0, so the file,
    played round and round, is exactly the music played without end.
    """
    audio = np.asarray(audio, np.float64)
    periods = max(1, -(-len(audio) // length))
    padded = np.zeros(periods * length)
    padded[:len(audio)] = audio
    return padded.reshape(periods, length).sum(axis=0)


def fit_length(audio: np.ndarray, length: int, sample_rate: int) -> np.ndarray:
    """`length` samples: silence added or the end cut, the last FADE_OUT_SECONDS faded to zero."""
    out = np.zeros(length)
    out[:min(length, len(audio))] = np.asarray(audio, np.float64)[:length]
    fade = min(length, int(FADE_OUT_SECONDS * sample_rate))
    if fade:
        out[length - fade:] *= np.cos(np.linspace(0, np.pi / 2, fade)) ** 2
    return out


def steadiest_seam(loop_audio: np.ndarray, candidates: np.ndarray, window: int) -> int:
    """The candidate sample where a loop's RMS over `window` samples before and after differs least (in dB).

    Starting a loop there puts its seam where the music is steady, not on a fresh attack.
    """
    audio = np.asarray(loop_audio, np.float64)
    window = min(window, len(audio) // 2)
    ring = np.concatenate([audio[-window:], audio, audio[:window]]) ** 2
    energy = np.concatenate([[0.0], np.cumsum(ring)])
    at = np.asarray(candidates, np.int64) + window  # index of each candidate in the ring
    before = (energy[at] - energy[at - window]) / window
    after = (energy[at + window] - energy[at]) / window
    floor = 1e-12
    difference = np.abs(10 * np.log10((before + floor) / (after + floor)))
    return int(candidates[int(np.argmin(difference))])


def loop_samples(n_steps: int, seconds_per_step: float, sample_rate: int) -> np.ndarray:
    """The sample at which each step of a loop begins, and (last entry) the loop's length in samples."""
    return np.rint(np.arange(n_steps + 1) * seconds_per_step * sample_rate).astype(np.int64)


def seamless_loop(notes: np.ndarray, bpm: float, n_steps: int, soundfont: Path | None,
                  sample_rate: int | None) -> tuple[np.ndarray | None, int]:
    """(the loop's audio from its new start, or None when sample_rate is None; the step the loop now starts at).

    The notes are rendered past the loop's end and the tail folded onto the head, so the
    audio is one round of the music played without end. The loop then starts at the step
    boundary where the sound is steadiest (RMS 100 ms before and after closest), so the seam
    falls between attacks. That choice is made on a reference rendering (default soundfont,
    SEAM_SAMPLE_RATE), so the MIDI does not depend on --soundfont, --sample-rate or --no-audio.
    """
    pm = notes_to_midi(notes, bpm, STEPS_PER_BEAT)
    seconds_per_step = 60.0 / (bpm * STEPS_PER_BEAT)
    reference_starts = loop_samples(n_steps, seconds_per_step, SEAM_SAMPLE_RATE)
    reference = fold_loop(synthesize(pm, None, SEAM_SAMPLE_RATE), int(reference_starts[-1]))
    seam = steadiest_seam(reference, reference_starts[:-1], round(SEAM_WINDOW_SECONDS * SEAM_SAMPLE_RATE))
    step = int(np.searchsorted(reference_starts, seam))
    if sample_rate is None:
        return None, step
    starts = loop_samples(n_steps, seconds_per_step, sample_rate)
    same_rendering = sample_rate == SEAM_SAMPLE_RATE and Path(soundfont or DEFAULT_SOUNDFONT) == DEFAULT_SOUNDFONT
    track = reference if same_rendering else fold_loop(synthesize(pm, soundfont, sample_rate), int(starts[-1]))
    return np.roll(track, -int(starts[step])), step


def encode(audio: np.ndarray, path: Path, sample_rate: int, audio_format: str) -> None:
    """Write mono audio (float, +-1 full scale) to path in one of FORMATS, block by block."""
    container, subtype = FORMATS[audio_format]
    options = {"compression_level": 1 - VORBIS_QUALITY} if audio_format == "ogg" else {}
    samples = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
    with soundfile.SoundFile(path, "w", samplerate=sample_rate, channels=1, format=container, subtype=subtype,
                             **options) as out:
        for start in range(0, len(samples), WRITE_BLOCK_FRAMES):
            out.write(samples[start:start + WRITE_BLOCK_FRAMES])


def tag_loop(path: Path, audio_format: str, start: int, length: int) -> None:
    """LOOPSTART / LOOPLENGTH (in samples) as Vorbis comments, where engines (RPG Maker, Godot, ...) read them.

    OGG and FLAC carry Vorbis comments; a WAV's loop is in the JSON sidecar only.
    """
    if audio_format == "wav":
        return
    from mutagen.flac import FLAC
    from mutagen.oggvorbis import OggVorbis

    tags = OggVorbis(path) if audio_format == "ogg" else FLAC(path)
    tags["LOOPSTART"] = str(start)
    tags["LOOPLENGTH"] = str(length)
    tags.save()


def write_track(audio: np.ndarray, path: Path, sample_rate: int, audio_format: str, lufs: float,
                loop: bool = False) -> Loudness:
    """Master to `lufs` and at most -1 dBTP, encode, and check what the encoded file decodes to.

    Lossy encoding moves peaks, so the true peak is measured on the decoded file; if it is
    over the limit the ceiling is lowered by the excess and the file made again. A loop's
    LOOPSTART/LOOPLENGTH comments cover the whole file. Written to a temporary file and renamed.
    """
    path = Path(path)
    ceiling = TRUE_PEAK_LIMIT_DB - (0.5 if audio_format == "ogg" else 0.1)
    with atomic_path(path) as tmp:
        for _ in range(4):
            mastered = master(audio, sample_rate, lufs, ceiling, circular=loop)
            encode(mastered, tmp, sample_rate, audio_format)
            decoded, _ = soundfile.read(tmp, dtype="float64")
            measured = Loudness(integrated_loudness(decoded, sample_rate), true_peak_db(decoded))
            if measured.true_peak_db <= TRUE_PEAK_LIMIT_DB:
                break
            ceiling -= measured.true_peak_db - TRUE_PEAK_LIMIT_DB + 0.1
        else:
            raise SystemExit(f"sample: {path}: could not bring the true peak under {TRUE_PEAK_LIMIT_DB} dBTP "
                             f"({measured.true_peak_db:.2f} dBTP after encoding)")
        if loop:
            tag_loop(tmp, audio_format, 0, len(decoded))
    return measured


def write_loop_sidecar(path: Path, audio_path: Path | None, midi_path: Path, sample_rate: int, length: int,
                       bpm: float, beats: float) -> None:
    """A small JSON file with the loop points in samples and seconds, for engines that read no tags."""
    sidecar = {
        "audio": audio_path.name if audio_path else None,
        "midi": midi_path.name,
        "sample_rate": sample_rate,
        "loop_start_samples": 0,
        "loop_length_samples": length,
        "loop_start_seconds": 0.0,
        "loop_length_seconds": round(length / sample_rate, 6),
        "bpm": bpm,
        "loop_length_beats": beats,
    }
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
