"""The sample stage: generator -> pieces of any length -> MIDI, game-ready audio and pictures.

Per piece: song.mid, song.wav|ogg|flac (mastered to a loudness target, true peak at
most -1 dBTP), song.png (the whole piece), and with --loop song.loop.json (loop
points in samples and seconds). --count N adds song_1.*, ... and song_contact.png.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from img2midi import notes_to_midi, write_midi_atomic
from img2midi.audio import FORMATS, fit_length, loop_samples, seamless_loop, synthesize, write_loop_sidecar, write_track
from img2midi.core import decode_piece, rotate_loop_notes
from img2midi.figures import Piece, write_contact_sheet, write_piece_figure
from img2midi.mood import MOODS, Mood, arrange
from midi2img.spec import STEPS_PER_BEAT, WINDOW_STEPS
from model.checkpoint import draws_velocities, load_generator
from model.longform import generate_pieces

TAIL_SECONDS = 1.0  # a piece that is not a loop lets its last notes ring this long past the roll's end
DEFAULT_BPM = 120.0
MIDI_SUFFIXES = (".mid", ".midi")


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


def sample(out: Path, model_path: Path, count: int = 1, seed: int = 0, threshold: int | None = None,
           bpm: float | None = None, soundfont: Path | None = None, audio: bool = True,
           audio_format: str | None = None, duration: float | None = None, loop: bool = False,
           sample_rate: int = 44100, lufs: float = -16.0, transpose: int = 0, mood: str | None = None) -> list[Path]:
    """Write `count` pieces (MIDI, audio unless audio=False, picture; a loop's sidecar); returns the MIDI paths.

    Option ranges are checked where the command line is parsed (pipeline.py); `--out` and `--format`
    are checked here, first, as they decide what is written.
    """
    out = Path(out)
    audio_format = audio_format_for(out, audio_format, audio)
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
