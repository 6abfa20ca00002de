"""Render MIDI to game-ready audio: stereo synthesis, seamless loops, loudness, WAV/OGG/FLAC with loop points."""

from __future__ import annotations

import functools
import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
import soundfile

from img2midi.core import notes_to_midi
from img2midi.loudness import apply_gain, integrated_loudness, mastering_gain, true_peak_db
from midi2img.atomic import atomic_path
from midi2img.spec import STEPS_PER_BEAT

BUNDLED_SOUNDFONT = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"  # 6 MB General MIDI bank, GPL-2
# FluidR3 GM (141 MB, MIT licence; Debian's fluid-soundfont-gm, which `make setup` installs): a stereo
# grand piano sampled over its whole range, where TimGM6mb's is a small mono one.
SYSTEM_SOUNDFONTS = (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
                     Path("/opt/homebrew/share/soundfonts/FluidR3_GM.sf2"))
FORMATS = {"wav": ("WAV", "PCM_16"), "ogg": ("OGG", "VORBIS"), "flac": ("FLAC", "PCM_16")}
VORBIS_QUALITY = 0.6  # libvorbis -q 6 (about 192 kbit/s stereo, less for mono): transparent for solo piano
TRUE_PEAK_LIMIT_DB = -1.0  # the most a file may peak, measured on what a player decodes
# libvorbis allocates its analysis buffer on the stack, sized by the frames passed in one call, and
# crashes on long ones (libsndfile issue #1095, python-soundfile #233, #426): write in blocks.
WRITE_BLOCK_FRAMES = 1 << 15
FADE_OUT_SECONDS = 0.05  # the end of a piece that is not a loop reaches zero instead of stopping mid-wave
SEAM_WINDOW_SECONDS = 0.1  # a loop's seam is put where the 100 ms before and after sound alike
SEAM_SAMPLE_RATE = 44100  # the reference rendering the seam is chosen on (the default rate: usually reused)
SEAM_SOUNDFONT = BUNDLED_SOUNDFONT  # ...always there, so that a loop's MIDI is the same on every machine
# Vorbis steps its blocks by multiples of 128 samples from a stream's start. A part cut from a track on
# that grid and encoded on its own is coded as the whole file codes it but for the cuts' surroundings
# (bench/ogg_parts.py: -58 to -108 dBFS of difference, against -45 throughout off the grid), so intro,
# loop and outro are laid on it.
VORBIS_GRID = 128


@dataclass(frozen=True)
class Loudness:
    """What the written file measures when decoded."""

    lufs: float
    true_peak_db: float


@functools.cache
def default_soundfont() -> Path:
    """FluidR3 GM where the system has it, else pretty_midi's TimGM6mb, saying so (once: the answer is kept)."""
    for path in SYSTEM_SOUNDFONTS:
        if path.is_file():
            return path
    print("sample: FluidR3_GM.sf2 not found (run `make setup`); rendering with TimGM6mb", file=sys.stderr)
    return BUNDLED_SOUNDFONT


def synthesize(pm: pretty_midi.PrettyMIDI, soundfont: Path | None = None, sample_rate: int = 44100,
               channels: int = 2) -> np.ndarray:
    """(samples, channels) float64 audio of the MIDI with fluidsynth, unnormalized, about a second past the end.

    pretty_midi's renderer keeps the left channel only; this is its event loop (the same events
    in the same order) with both channels kept; channels=1 mixes them down.
    """
    soundfont = Path(soundfont or default_soundfont())
    if not soundfont.is_file():
        raise SystemExit(f"sample: soundfont {soundfont} not found")
    try:
        import fluidsynth  # pyfluidsynth; fails when the shared library is missing
    except ImportError as error:
        raise SystemExit(f"sample: cannot render audio, fluidsynth is unavailable ({error}); "
                         "run `make setup` or install libfluidsynth") from None
    instruments = [instrument for instrument in pm.instruments if instrument.notes]
    if not instruments:
        return np.zeros((0, channels))
    parts = []
    for instrument in instruments:
        events = []
        for note in instrument.notes:
            events += [(note.start, "note on", note.pitch, note.velocity), (note.end, "note off", note.pitch, 0)]
        events += [(change.time, "control change", change.number, change.value)
                   for change in instrument.control_changes]
        events.sort(key=lambda event: (event[0], event[1] != "note off"))
        synth = fluidsynth.Synth(samplerate=sample_rate)
        try:
            synth.program_select(0, synth.sfload(str(soundfont)), 128 if instrument.is_drum else 0,
                                 instrument.program)
            # Time moves on by the gap to the next event, summed as pretty_midi sums it (the same samples).
            now = events[0][0]
            gaps = [after[0] - before[0] for before, after in zip(events, events[1:], strict=False)] + [1.0]
            audio = np.zeros((int(np.ceil(sample_rate * (now + np.sum(gaps)))), 2))
            for (_, kind, number, value), gap in zip(events, gaps, strict=True):
                if kind == "note on":
                    synth.noteon(0, number, value)
                elif kind == "note off":
                    synth.noteoff(0, number)
                else:
                    synth.cc(0, number, value)
                begin, end = int(sample_rate * now), int(sample_rate * (now + gap))
                if end > begin:
                    samples = np.asarray(synth.get_samples(end - begin), np.float64).reshape(-1, 2)
                    audio[begin:end] += samples / 2**15  # 16-bit full scale -> 1
                now += gap
        finally:
            synth.delete()
        parts.append(audio)
    mix = np.zeros((max(len(part) for part in parts), 2))
    for part in parts:
        mix[:len(part)] += part
    return mix if channels == 2 else mix.mean(axis=1, keepdims=True)


def fold_loop(audio: np.ndarray, length: int) -> np.ndarray:
    """The `length` samples a loop repeats: everything rendered past the end is added onto the start.

    The notes still ringing at the loop point then carry on at sample 0, so the file,
    played round and round, is exactly the music played without end.
    """
    audio = np.asarray(audio, np.float64)
    periods = max(1, -(-len(audio) // length))
    padded = np.zeros((periods * length, *audio.shape[1:]))
    padded[:len(audio)] = audio
    return padded.reshape(periods, length, *audio.shape[1:]).sum(axis=0)


def fit_length(audio: np.ndarray, length: int, sample_rate: int) -> np.ndarray:
    """`length` samples: silence added or the end cut, the last FADE_OUT_SECONDS faded to zero."""
    audio = np.asarray(audio, np.float64)
    out = np.zeros((length, *audio.shape[1:]))
    out[:min(length, len(audio))] = audio[:length]
    fade = min(length, int(FADE_OUT_SECONDS * sample_rate))
    if fade:
        out[length - fade:] = apply_gain(out[length - fade:], np.cos(np.linspace(0, np.pi / 2, fade)) ** 2)
    return out


def steadiest_seam(loop_audio: np.ndarray, candidates: np.ndarray, window: int) -> int:
    """The candidate sample where a loop's RMS over `window` samples before and after differs least (in dB).

    Starting a loop there puts its seam where the music is steady, not on a fresh attack.
    (samples,) audio; of (samples, channels) audio, the first channel.
    """
    audio = np.asarray(loop_audio, np.float64)
    audio = audio[:, 0] if audio.ndim == 2 else audio
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


def grid_tempo(bpm: float, n_steps: int, sample_rate: int, grid: int = VORBIS_GRID) -> float:
    """The tempo nearest `bpm` at which `n_steps` last a whole number of `grid` samples.

    The change is at most grid / 2 samples over the span (0.15% for a 1-s loop, 0.002% for 60 s).
    """
    samples = n_steps * 60.0 / (bpm * STEPS_PER_BEAT) * sample_rate
    return bpm * samples / max(grid, round(samples / grid) * grid)


def loop_seam(notes: np.ndarray, bpm: float, n_steps: int) -> int:
    """The step a loop of these notes should start at: the step boundary where it sounds steadiest.

    The notes are rendered past the loop's end and the tail folded onto the head (one round of
    the music played without end); the seam goes where the RMS of the 100 ms before and after
    is closest, so that it falls between attacks. Chosen on a reference rendering
    (SEAM_SOUNDFONT's left channel at SEAM_SAMPLE_RATE), so that the MIDI depends on neither
    the soundfont, the sample rate, the channels nor --no-audio.
    """
    pm = notes_to_midi(notes, bpm, STEPS_PER_BEAT)
    starts = loop_samples(n_steps, 60.0 / (bpm * STEPS_PER_BEAT), SEAM_SAMPLE_RATE)
    reference = fold_loop(synthesize(pm, SEAM_SOUNDFONT, SEAM_SAMPLE_RATE), int(starts[-1]))
    seam = steadiest_seam(reference, starts[:-1], round(SEAM_WINDOW_SECONDS * SEAM_SAMPLE_RATE))
    return int(np.searchsorted(starts, seam))


def render_loop(notes: np.ndarray, bpm: float, n_steps: int, soundfont: Path | None, sample_rate: int,
                channels: int = 2) -> np.ndarray:
    """(samples, channels) audio of one round of a loop's notes played without end (see fold_loop)."""
    length = int(loop_samples(n_steps, 60.0 / (bpm * STEPS_PER_BEAT), sample_rate)[-1])
    return fold_loop(synthesize(notes_to_midi(notes, bpm, STEPS_PER_BEAT), soundfont, sample_rate, channels), length)


def encode(audio: np.ndarray, path: Path, sample_rate: int, audio_format: str) -> None:
    """Write (samples, channels) audio (float, +-1 full scale) to path in one of FORMATS, block by block."""
    container, subtype = FORMATS[audio_format]
    options = {"compression_level": 1 - VORBIS_QUALITY} if audio_format == "ogg" else {}
    samples = np.clip(np.asarray(audio, np.float32), -1.0, 1.0)
    samples = samples[:, None] if samples.ndim == 1 else samples
    with soundfile.SoundFile(path, "w", samplerate=sample_rate, channels=samples.shape[1], format=container,
                             subtype=subtype, **options) as out:
        for start in range(0, len(samples), WRITE_BLOCK_FRAMES):
            out.write(samples[start:start + WRITE_BLOCK_FRAMES])


def smpl_chunk(sample_rate: int, start: int, end: int) -> bytes:
    """A RIFF `smpl` chunk with one forward loop over samples start..end (inclusive), played endlessly.

    Godot ("Detect From WAV"), Unreal, FMOD and samplers read a WAV's loop from this chunk;
    libsndfile writes one only through a C call that python-soundfile does not expose, so
    it is packed here, after the layout of the RIFF/WAVE specification (Microsoft, 1991):
    nine 32-bit header fields, then per loop: cue id, type (0 forward), start, end,
    fraction, play count (0 endless). MIDI unity note 60, sample period in nanoseconds.
    """
    header = struct.pack("<9I", 0, 0, round(1e9 / sample_rate), 60, 0, 0, 0, 1, 0)
    loop = struct.pack("<6I", 0, 0, start, end, 0, 0)
    return b"smpl" + struct.pack("<I", len(header) + len(loop)) + header + loop


def add_wav_loop(path: Path, sample_rate: int, start: int, end: int) -> None:
    """Append a `smpl` chunk (see smpl_chunk) to a RIFF WAV file and correct the RIFF size."""
    with open(path, "r+b") as wav:
        if wav.read(4) != b"RIFF":
            raise ValueError(f"{path} is not a RIFF WAV file")
        wav.seek(0, 2)
        if wav.tell() % 2:  # chunks start on even offsets
            wav.write(b"\0")
        wav.write(smpl_chunk(sample_rate, start, end))
        size = wav.tell() - 8
        wav.seek(4)
        wav.write(struct.pack("<I", size))


def tag_loop(path: Path, audio_format: str, sample_rate: int, start: int, length: int) -> None:
    """The loop region in the file itself: LOOPSTART / LOOPLENGTH (in samples) as Vorbis comments in OGG
    and FLAC (RPG Maker, Godot's OGG import, ...), a `smpl` chunk in WAV (Godot, Unreal, samplers)."""
    if audio_format == "wav":
        add_wav_loop(path, sample_rate, start, start + length - 1)
        return
    from mutagen.flac import FLAC
    from mutagen.oggvorbis import OggVorbis

    tags = OggVorbis(path) if audio_format == "ogg" else FLAC(path)
    tags["LOOPSTART"] = str(start)
    tags["LOOPLENGTH"] = str(length)
    tags.save()


def write_track(audio: np.ndarray, path: Path, sample_rate: int, audio_format: str, lufs: float,
                loop: tuple[int, int] | None = None, gain: np.ndarray | None = None) -> tuple[Loudness, np.ndarray]:
    """Master to `lufs` and at most -1 dBTP, encode, and check what the encoded file decodes to.

    Returns what the file measures and the per-sample gain it was given. With `gain` (a mix's,
    for its stems) the audio is given exactly that gain instead. `loop` is the loop region
    (start, length) in samples, tagged in the file; a loop over the whole file is mastered as a
    ring. Lossy encoding moves peaks, so the true peak is measured on the decoded file; if it is
    over the limit the ceiling is lowered by the excess and the file made again. Written to a
    temporary file and renamed.
    """
    path = Path(path)
    circular = loop == (0, len(audio))
    ceiling = TRUE_PEAK_LIMIT_DB - (0.5 if audio_format == "ogg" else 0.1)
    with atomic_path(path) as tmp:
        for _ in range(4):
            given = gain if gain is not None else mastering_gain(audio, sample_rate, lufs, ceiling, circular)
            encode(apply_gain(audio, given), tmp, sample_rate, audio_format)
            decoded, _ = soundfile.read(tmp, dtype="float64", always_2d=True)
            measured = Loudness(integrated_loudness(decoded, sample_rate), true_peak_db(decoded))
            if measured.true_peak_db <= TRUE_PEAK_LIMIT_DB or gain is not None:
                break
            ceiling -= measured.true_peak_db - TRUE_PEAK_LIMIT_DB + 0.1
        else:
            raise SystemExit(f"sample: {path}: could not bring the true peak under {TRUE_PEAK_LIMIT_DB} dBTP "
                             f"({measured.true_peak_db:.2f} dBTP after encoding)")
        if loop:
            tag_loop(tmp, audio_format, sample_rate, *loop)
    return measured, given


def write_loop_sidecar(path: Path, audio_path: Path | None, midi_path: Path, sample_rate: int,
                       region: tuple[int, int], bpm: float, beats: tuple[float, float]) -> None:
    """A small JSON file with the loop region (start, length) in samples, seconds and beats, for engines
    that read no tags."""
    start, length = region
    sidecar = {
        "audio": audio_path.name if audio_path else None,
        "midi": midi_path.name,
        "sample_rate": sample_rate,
        "loop_start_samples": start,
        "loop_length_samples": length,
        "loop_start_seconds": round(start / sample_rate, 6),
        "loop_length_seconds": round(length / sample_rate, 6),
        "bpm": bpm,
        "loop_start_beats": beats[0],
        "loop_length_beats": beats[1],
    }
    with atomic_path(Path(path)) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")
