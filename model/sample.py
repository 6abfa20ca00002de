"""The sample stage: generator -> pieces of any length -> MIDI, game-ready audio and pictures.

Per piece: song.mid, song.wav|ogg|flac (stereo unless --channels 1, mastered to a loudness
target, true peak at most -1 dBTP), song.png (the whole piece), and with --loop
song.loop.json (loop points in samples and seconds; the audio file carries them too).
With --intro/--outro: song_intro, song_loop, song_outro beside the whole. With --stems:
song_bass, song_harmony, song_melody (MIDI and audio). --count N adds song_1.*, ... and
song_contact.png.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from img2midi import notes_to_midi, write_midi_atomic
from img2midi.audio import (
    FORMATS,
    VORBIS_GRID,
    fit_length,
    grid_tempo,
    loop_samples,
    loop_seam,
    render_loop,
    synthesize,
    write_loop_sidecar,
    write_track,
)
from img2midi.core import decode_piece, rotate_loop_notes
from img2midi.figures import Piece, write_contact_sheet, write_piece_figure
from img2midi.mood import MOODS, Mood, arrange
from img2midi.parts import hold_final_chord, split_voices
from midi2img.spec import STEPS_PER_BEAT, WINDOW_STEPS
from model.checkpoint import drawn_dynamics, load_generator
from model.eracritic import best_drafts, era_likeness, load_critic
from model.longform import OVERLAP_STEPS, generate_ends, generate_pieces, splice
from model.options import DEFAULT_LUFS, DRAFTS
from model.primer import Source
from model.style import plan_names, scheduled_eras, style_plan

TAIL_SECONDS = 1.0  # a piece that is not a loop lets its last notes ring this long past the roll's end
OUTRO_RING_SECONDS = 2.5  # an outro's held chord rings this long past its last step
DEFAULT_BPM = 120.0
MIDI_SUFFIXES = (".mid", ".midi")
PARTS = ("intro", "loop", "outro")


@dataclass(frozen=True)
class PiecePaths:
    midi: Path
    audio: Path | None
    figure: Path
    sidecar: Path

    def beside(self, name: str) -> PiecePaths:
        """song_<name>.*: a part or a stem of the piece."""
        named = lambda path: path.with_name(f"{path.stem}_{name}{path.suffix}")  # noqa: E731
        return PiecePaths(named(self.midi), self.audio and named(self.audio), self.figure, self.sidecar)


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


def one_round(notes: np.ndarray, intro: int, loop: int) -> np.ndarray:
    """The notes of intro, loop, loop, outro as the piece plays through once: intro, loop, outro."""
    notes = np.asarray(notes, np.int64).reshape(-1, 4)
    outro = notes[notes[:, 1] >= intro + 2 * loop].copy()
    outro[:, 1:3] -= loop
    return np.concatenate([notes[notes[:, 1] < intro + loop], outro])


def sample(out: Path, model_path: Path, count: int = 1, seed: int = 0, threshold: int | None = None,
           bpm: float | None = None, soundfont: Path | None = None, audio: bool = True,
           audio_format: str | None = None, duration: float | None = None, loop: bool = False,
           sample_rate: int = 44100, lufs: float = DEFAULT_LUFS, transpose: int = 0, mood: str | None = None,
           channels: int = 2, intro: float = 0.0, outro: float = 0.0, stems: bool = False,
           style: str | None = None, generator: keras.Model | None = None, source: Source | None = None,
           dynamics: str = "played", drafts: int = DRAFTS) -> list[Path]:
    """Write `count` pieces (MIDI, audio unless audio=False, picture; a loop's sidecar); returns the MIDI paths.

    A loop with `intro` or `outro` seconds is one file that plays the intro once, then loops, and
    ends with the outro when the game lets it; the three parts are written beside it as well.
    `source` (model/primer.py) starts the pieces from the user's music instead of chance, in its
    texture; `style` asks a style-conditioned generator for an era, a composer, a texture or a
    schedule of them (model/style.py) instead. A piece asked for eras alone (one, or a schedule of them)
    is drafted `drafts` times and the draft model/eracritic.py finds most like them is kept.
    `dynamics` "played" has img2midi.dynamics play the notes; "drawn" keeps the generator's velocities.
    Option ranges are checked where the command line is parsed (pipeline.py); `--out`, `--format`
    and the options that need --loop are checked here, first, as they decide what is written.
    """
    out = Path(out)
    audio_format = audio_format_for(out, audio_format, audio)
    if (intro or outro) and not loop:
        raise SystemExit("sample: --intro and --outro frame a loop; add --loop")
    primer = source.primer if source else None
    if primer and (loop or mood):
        raise SystemExit("continue: a continuation is not a loop and keeps the primer's character; "
                         "drop --loop and --mood")
    preset: Mood | None = MOODS[mood] if mood else None
    bpm = bpm or (preset.bpm if preset else DEFAULT_BPM)
    threshold = threshold if threshold is not None else (preset.threshold if preset else None)
    seconds_per_step = 60.0 / (bpm * STEPS_PER_BEAT)
    n_steps = piece_steps(duration, loop, seconds_per_step)
    intro_steps, outro_steps = round(intro / seconds_per_step), round(outro / seconds_per_step)
    framed = bool(intro_steps or outro_steps)
    if framed:  # the loop a whole number of Vorbis blocks long, so that each part encodes as the whole does
        bpm = grid_tempo(bpm, n_steps, sample_rate)
        seconds_per_step = 60.0 / (bpm * STEPS_PER_BEAT)
    total_steps = intro_steps + n_steps + outro_steps  # of the MIDI
    if framed:
        seconds = total_steps * seconds_per_step + OUTRO_RING_SECONDS
    else:
        seconds = n_steps * seconds_per_step if loop else (duration or n_steps * seconds_per_step + TAIL_SECONDS)

    if primer and n_steps <= primer.steps:
        raise SystemExit(f"continue: --duration {seconds:g} s leaves nothing after the primer's "
                         f"{primer.steps * seconds_per_step:.1f} s")
    generator = generator or load_generator(model_path)  # the studio loads it once, for every request
    velocities = drawn_dynamics(generator, dynamics, "sample")
    joined = min(OVERLAP_STEPS, primer.steps) if primer else 0  # steps where the primer fades into its continuation
    generated_steps = n_steps - (primer.steps - joined if primer else 0)
    eras = scheduled_eras(style, generated_steps, seconds_per_step) if source is None and drafts > 1 else None
    critic = load_critic() if eras is not None else None
    drafted = drafts if critic is not None else 1  # each piece drafted this often; the critic keeps the most era-like
    plan = source.plan(generated_steps) if source and not style else None
    if plan is None:
        plan = style_plan(generator, style, count * drafted, generated_steps, seconds_per_step, seed)
    rolls = generate_pieces(generator, seed, count * drafted, generated_steps, loop,
                            source.anchors(generated_steps) if source else None, plan)
    pieces = np.arange(count)
    if critic is not None:
        pieces = best_drafts(era_likeness(critic, rolls, eras), drafts)
        rolls, plan = rolls[pieces], plan[pieces]

    def notes_of(roll: np.ndarray, ring: bool) -> np.ndarray:
        notes = arrange(decode_piece(roll, threshold, ring, velocities), roll, preset, transpose, ring)
        return source.fit(notes, roll.shape[1]) if source else notes

    def continued(roll: np.ndarray) -> np.ndarray:
        """The primer's notes as written, then the notes that follow them in `roll` joined onto its end."""
        before = primer.roll
        whole = np.concatenate([before[:, :primer.steps - joined], splice(roll, before[:, -joined:], False)], axis=1)
        following = notes_of(whole, False)
        notes = np.concatenate([primer.notes, following[following[:, 1] >= primer.steps]])
        return notes[np.lexsort((notes[:, 0], notes[:, 1]))]

    if loop:  # each loop starts where it sounds steadiest
        rings = [notes_of(roll, True) for roll in rolls]
        seams = [loop_seam(ring, bpm, n_steps) for ring in rings]
        rings = [rotate_loop_notes(ring, seam, n_steps) for ring, seam in zip(rings, seams, strict=True)]
        rolls = np.stack([np.roll(roll, -seam, axis=1) for roll, seam in zip(rolls, seams, strict=True)])
    if framed:
        intros, outros = generate_ends(generator, seed, rolls, intro_steps, outro_steps,
                                       None if plan is None else plan.mean(axis=1), pieces)
    at = loop_samples(intro_steps + 2 * n_steps + outro_steps, seconds_per_step, sample_rate)  # step -> sample
    # A framed piece begins with up to VORBIS_GRID - 1 samples (under 3 ms) of silence: the intro's end then
    # lies on the grid too.
    lead = -int(at[intro_steps]) % VORBIS_GRID if framed else 0
    at = at + lead
    cuts = (int(at[intro_steps]), int(at[intro_steps + n_steps]), int(at[intro_steps + 2 * n_steps]))
    # The loop region in the audio file, in samples: after the intro, as long as the loop's second round.
    region = (cuts[0], cuts[2] - cuts[1]) if framed else (0, cuts[1]) if loop else None

    def render(notes: np.ndarray) -> np.ndarray:
        """(samples, channels) audio of the piece's played notes, every voice to the same length."""
        if framed:
            track = synthesize(notes_to_midi(notes, bpm, STEPS_PER_BEAT), soundfont, sample_rate, channels)
            track = fit_length(track, int(at[-1] - lead) + round(OUTRO_RING_SECONDS * sample_rate), sample_rate)
            track = np.concatenate([np.zeros((lead, track.shape[1]), track.dtype), track])
            return np.concatenate([track[:cuts[0]], track[cuts[1]:]])
        if loop:
            return render_loop(notes, bpm, n_steps, soundfont, sample_rate, channels)
        track = synthesize(notes_to_midi(notes, bpm, STEPS_PER_BEAT), soundfont, sample_rate, channels)
        return fit_length(track, round(seconds * sample_rate), sample_rate)

    out.parent.mkdir(parents=True, exist_ok=True)
    pieces, written = [], []
    for index, roll in enumerate(rolls):
        paths = piece_paths(out, index, audio_format)
        if framed:  # decoded as intro, loop, loop, outro: every join is the loop's own seam
            whole = np.concatenate([intros[index], roll, roll, outros[index]], axis=1)
            played = hold_final_chord(notes_of(whole, False), whole.shape[1])
            notes = one_round(played, intro_steps, n_steps)
        elif primer:
            played = notes = continued(roll)
        else:
            played = notes = rings[index] if loop else notes_of(roll, False)
        report = ""
        if audio_format:
            # With stems, the mix is their sum: rendered whole, a key struck in two voices at once
            # would sound once, and layered stems would not add up to it.
            voices = {voice: render(voice_notes) for voice, voice_notes in split_voices(played).items()} \
                if stems else {}
            track = sum(voices.values()) if stems else render(played)
            measured, gain = write_track(track, paths.audio, sample_rate, audio_format, lufs, region)
            report = (f"; {measured.lufs:.1f} LUFS, true peak {measured.true_peak_db:.1f} dBTP"
                      if np.isfinite(measured.lufs) else "; silent")
            if framed:
                bounds = (0, cuts[0], cuts[0] + cuts[2] - cuts[1], len(track))
                for part, begin, end in zip(PARTS, bounds, bounds[1:], strict=False):
                    write_track(track[begin:end], paths.beside(part).audio, sample_rate, audio_format, lufs,
                                (0, end - begin) if part == "loop" else None, gain[begin:end])
            for voice, voice_track in voices.items():
                write_track(voice_track, paths.beside(voice).audio, sample_rate, audio_format, lufs, region, gain)
        write_midi_atomic(notes_to_midi(notes, bpm, STEPS_PER_BEAT), paths.midi)
        if stems:
            for voice, voice_notes in split_voices(notes).items():
                write_midi_atomic(notes_to_midi(voice_notes, bpm, STEPS_PER_BEAT), paths.beside(voice).midi)
        loop_steps = (intro_steps, intro_steps + n_steps) if loop else None
        if loop:
            write_loop_sidecar(paths.sidecar, paths.audio, paths.midi, sample_rate, region, bpm,
                               (intro_steps / STEPS_PER_BEAT, n_steps / STEPS_PER_BEAT))
        else:  # an earlier --loop run's loop points would be wrong for the files just written
            paths.sidecar.unlink(missing_ok=True)
        character = (f"{style.strip().lower()}, the best of {drafts} drafts, " if critic is not None else "") + \
            (f"{plan_names(generator, plan[index])}, " if plan is not None else "") + \
            (f"{mood}, {preset.key}, " if preset else "")
        shape = (f"{intro_steps * seconds_per_step:.1f} s intro, {n_steps * seconds_per_step:.1f} s loop, "
                 f"{outro_steps * seconds_per_step:.1f} s outro and {OUTRO_RING_SECONDS:g} s ring" if framed
                 else f"{seconds:.1f} s{' loop' if loop else ''}")
        title = f"{(paths.audio or paths.midi).name}: {shape}, {len(notes)} notes, {character}{bpm:g} bpm"
        piece = Piece(title, notes, total_steps, seconds_per_step, loop_steps, seconds)
        write_piece_figure(piece, paths.figure)
        pieces.append(piece)
        print(f"sample: {paths.audio or paths.midi}: {title.split(': ', 1)[1]}{report}", flush=True)
        written.append(paths.midi)
    if count > 1:
        write_contact_sheet(pieces, out.with_name(f"{out.stem}_contact.png"))
    return written
