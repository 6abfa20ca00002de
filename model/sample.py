"""The sample stage: generator -> pieces of any length -> MIDI, game-ready audio and pictures.

Per piece: song.mid, song.wav|ogg|flac (mastered to a loudness target, true peak at
most -1 dBTP), song.png (the whole piece), and with --loop song.loop.json (loop
points in samples and seconds). --count N adds song_1.*, ... and song_contact.png.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from img2midi import notes_to_midi, roll_to_notes, write_midi_atomic
from img2midi.audio import (
    DEFAULT_SOUNDFONT,
    FORMATS,
    fit_length,
    fold_loop,
    steadiest_seam,
    synthesize,
    write_loop_sidecar,
    write_track,
)
from img2midi.figures import Piece, write_contact_sheet, write_piece_figure
from img2midi.mood import MOODS, PIANO_HIGHEST, Mood, arrange
from midi2img.atomic import first_line
from midi2img.spec import DEFAULT_VELOCITY, IMAGE_SHAPE, STEPS_PER_BEAT, WINDOW_STEPS
from model import checkpoint
from model.dcgan import SnapToLevels
from model.longform import generate_pieces, roll_to_loop_notes, rotate_loop_notes

TAIL_SECONDS = 1.0  # a piece that is not a loop lets its last notes ring this long past the roll's end
DEFAULT_BPM = 120.0
MIDI_SUFFIXES = (".mid", ".midi")
DURATION_RANGE = (4.0, 1200.0)  # seconds: a few beats at least; 20 minutes take 2 minutes and 4.5 GB
SAMPLE_RATE_RANGE = (8000, 96000)  # what fluidsynth renders at
LUFS_RANGE = (-36.0, -10.0)  # -16 for game music and podcasts, -14 streaming, -23 broadcast
BPM_RANGE = (20.0, 400.0)
TRANSPOSE_RANGE = (-24, 24)
SEAM_WINDOW_SECONDS = 0.1  # a loop's seam is put where the 100 ms before and after sound alike
SEAM_SAMPLE_RATE = 44100  # the reference rendering the seam is chosen on (the default rate: usually reused)


def load_generator(path: Path, stage: str = "sample") -> keras.Model:
    """A generator from a .keras file or a run folder (its newest checkpoint), with a clear error otherwise."""
    path = Path(path)
    if path.is_dir():
        newest = checkpoint.newest_valid(path / "checkpoints", stage) or checkpoint.newest_valid(path, stage)
        if newest is None:
            raise SystemExit(f"{stage}: no usable checkpoint in {path}")
        path = newest / "generator.keras"
    if not path.is_file():
        raise SystemExit(f"{stage}: model {path} not found")
    if path.stat().st_size == 0:
        raise SystemExit(f"{stage}: cannot load model {path}: empty file (0 bytes)")
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        raise SystemExit(f"{stage}: cannot load model {path}: not a .keras model file "
                         "(a .keras file is a zip archive; this one is truncated or something else)")
    try:
        generator = keras.models.load_model(path, compile=False)
    except Exception as error:  # keras reports broken files with many exception types; one line for all
        raise SystemExit(f"{stage}: cannot load model {path}: {first_line(error)}") from None
    try:
        input_shape, output_shape = tuple(generator.input_shape), tuple(generator.output_shape)
    except (AttributeError, TypeError, ValueError):  # a model with several or no inputs/outputs
        raise SystemExit(f"{stage}: {path} is not a generator (no single input and output)") from None
    if tuple(output_shape[1:]) != (*IMAGE_SHAPE, 1) or len(input_shape) != 2:
        raise SystemExit(f"{stage}: {path} maps {input_shape} -> {output_shape}, "
                         f"not a latent vector -> {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}x1 generator")
    return generator


@dataclass(frozen=True)
class PiecePaths:
    midi: Path
    audio: Path | None
    figure: Path
    sidecar: Path


def piece_paths(out: Path, index: int, audio_format: str | None) -> PiecePaths:
    """song.mid/.ogg/.png/.loop.json, then song_1.*, song_2.*, ... for further pieces."""
    base = out.with_suffix("") if index == 0 else out.with_name(f"{out.stem}_{index}")
    beside = lambda suffix: base.with_name(base.name + suffix)  # noqa: E731  (keeps dots inside the stem)
    given = out.suffix.lower() if index == 0 else ""  # --out itself is used as written, whatever its case
    midi = out if given in MIDI_SUFFIXES else beside(".mid")
    audio = None if not audio_format else out if given == f".{audio_format}" else beside(f".{audio_format}")
    return PiecePaths(midi, audio, beside(".png"), beside(".loop.json"))


def _check_range(option: str, value: float | None, bounds: tuple[float, float], unit: str = "") -> None:
    if value is not None and not bounds[0] <= value <= bounds[1]:
        raise SystemExit(f"sample: {option} {value:g}{unit} is out of range; use {bounds[0]:g} to {bounds[1]:g}{unit}")


def audio_format_for(out: Path, audio_format: str | None, audio: bool) -> str | None:
    """The audio format to write (None: MIDI only), from --format and --out's suffix, or one line saying why not."""
    suffix = out.suffix.lower()
    if suffix not in MIDI_SUFFIXES and suffix.lstrip(".") not in FORMATS:
        raise SystemExit(f"sample: --out {out} should end in .mid, " + ", ".join(f".{f}" for f in FORMATS))
    from_suffix = suffix.lstrip(".") if suffix not in MIDI_SUFFIXES else None
    if not audio:
        if from_suffix or audio_format:
            asked = f"--out {out}" if from_suffix else f"--format {audio_format}"
            raise SystemExit(f"sample: --no-audio writes MIDI only, but {asked} asks for audio")
        return None
    if from_suffix and audio_format and audio_format != from_suffix:
        raise SystemExit(f"sample: --out {out} ends in .{from_suffix} but --format is {audio_format}; "
                         "drop one or make them agree")
    return from_suffix or audio_format or "wav"


def piece_steps(duration: float | None, loop: bool, seconds_per_step: float) -> int:
    """Roll columns of a piece: one image by default; a loop fills `duration`, a piece leaves TAIL_SECONDS to ring."""
    if duration is None:
        return WINDOW_STEPS
    return max(1, round((duration - (0 if loop else TAIL_SECONDS)) / seconds_per_step))


def draws_velocities(generator: keras.Model) -> bool:
    """Whether a generator's onsets carry velocities; one trained before they did draws every onset loudest."""
    return any(isinstance(layer, SnapToLevels) and layer.velocity for layer in generator.layers)


def decode_piece(roll: np.ndarray, threshold: int | None, loop: bool, velocities: bool = True) -> np.ndarray:
    """Notes of a piece's roll (a loop's as a ring); rows above C8 are no piano key, so notes there are dropped.

    Without `velocities` (a generator that draws none), every note gets DEFAULT_VELOCITY, not the loudest.
    """
    notes = roll_to_loop_notes(roll, threshold) if loop else roll_to_notes(roll, threshold)
    notes = notes[notes[:, 0] <= PIANO_HIGHEST]
    if not velocities:
        notes[:, 3] = DEFAULT_VELOCITY
    return notes


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


def sample(out: Path, model_path: Path, count: int = 1, seed: int = 0, threshold: int | None = None,
           bpm: float | None = None, soundfont: Path | None = None, audio: bool = True,
           audio_format: str | None = None, duration: float | None = None, loop: bool = False,
           sample_rate: int = 44100, lufs: float = -16.0, transpose: int = 0, mood: str | None = None) -> list[Path]:
    """Write `count` pieces (MIDI, audio unless audio=False, picture; a loop's sidecar); returns the MIDI paths."""
    out = Path(out)
    audio_format = audio_format_for(out, audio_format, audio)
    _check_range("--duration", duration, DURATION_RANGE, " s")
    _check_range("--sample-rate", sample_rate, SAMPLE_RATE_RANGE, " Hz")
    _check_range("--lufs", lufs, LUFS_RANGE)
    _check_range("--bpm", bpm, BPM_RANGE)
    _check_range("--transpose", transpose, TRANSPOSE_RANGE, " semitones")
    if mood is not None and mood not in MOODS:
        raise SystemExit(f"sample: --mood {mood} is not one of {', '.join(MOODS)}")
    preset: Mood | None = MOODS[mood] if mood else None
    bpm = bpm or (preset.bpm if preset else DEFAULT_BPM)
    threshold = threshold if threshold is not None else (preset.threshold if preset else None)
    seconds_per_step = 60.0 / (bpm * STEPS_PER_BEAT)
    n_steps = piece_steps(duration, loop, seconds_per_step)
    seconds = n_steps * seconds_per_step if loop else (duration or n_steps * seconds_per_step + TAIL_SECONDS)

    generator = load_generator(model_path)
    velocities = draws_velocities(generator)
    rolls = generate_pieces(generator, seed, count, n_steps, loop)
    out.parent.mkdir(parents=True, exist_ok=True)
    pieces, written = [], []
    for index, roll in enumerate(rolls):
        paths = piece_paths(out, index, audio_format)
        notes = arrange(decode_piece(roll, threshold, loop, velocities), roll, preset, transpose, loop)
        report = ""
        track = None
        if loop:
            track, seam = seamless_loop(notes, bpm, n_steps, soundfont, sample_rate if audio_format else None)
            notes = rotate_loop_notes(notes, seam, n_steps)
        elif audio_format:
            track = synthesize(notes_to_midi(notes, bpm, STEPS_PER_BEAT), soundfont, sample_rate)
            track = fit_length(track, round(seconds * sample_rate), sample_rate)
        if audio_format:
            measured = write_track(track, paths.audio, sample_rate, audio_format, lufs, loop)
            report = (f"; {measured.lufs:.1f} LUFS, true peak {measured.true_peak_db:.1f} dBTP"
                      if np.isfinite(measured.lufs) else "; silent")
        write_midi_atomic(notes_to_midi(notes, bpm, STEPS_PER_BEAT), paths.midi)
        if loop:
            length = int(loop_samples(n_steps, seconds_per_step, sample_rate)[-1])
            write_loop_sidecar(paths.sidecar, paths.audio, paths.midi, sample_rate, length, bpm,
                               n_steps / STEPS_PER_BEAT)
        else:  # an earlier --loop run's loop points would be wrong for the files just written
            paths.sidecar.unlink(missing_ok=True)
        character = f"{mood}, {preset.key}, " if preset else ""
        title = (f"{(paths.audio or paths.midi).name}: {seconds:.1f} s{' loop' if loop else ''}, "
                 f"{len(notes)} notes, {character}{bpm:g} bpm")
        piece = Piece(title, notes, n_steps, seconds_per_step, loop, seconds)
        write_piece_figure(piece, paths.figure)
        pieces.append(piece)
        print(f"sample: {paths.audio or paths.midi}: {title.split(': ', 1)[1]}{report}", flush=True)
        written.append(paths.midi)
    if count > 1:
        write_contact_sheet(pieces, out.with_name(f"{out.stem}_contact.png"))
    return written
