"""Pure core of img2midi: a piano-roll array in, notes and a PrettyMIDI object out. No file I/O.

Every rule for turning a roll into notes lives here: a window (`roll_to_notes`), a loop read as a
ring (`roll_to_loop_notes`, `rotate_loop_notes`) and a generated piece (`decode_piece`: only the
piano's keys, and the velocities a generator draws or, for one that draws none, those img2midi.dynamics plays).
"""

from __future__ import annotations

import numpy as np
import pretty_midi

from img2midi.dynamics import perform
from midi2img.spec import (
    DEFAULT_VELOCITY,
    N_PITCHES,
    NOTE_COLUMNS,
    ONSET_THRESHOLD,
    PIANO_HIGHEST,
    STEPS_PER_BEAT,
    empty_notes,
    level_to_velocity,
    pitch_to_row,
    row_to_pitch,
)

__all__ = ["DEFAULT_THRESHOLD", "ONSET_THRESHOLD", "PIANO_PROGRAM", "decode_piece", "notes_to_midi",
           "roll_to_loop_notes", "roll_to_notes", "rotate_loop_notes", "struck_mask"]

# A pixel sounds from this level up. Half of SUSTAIN_LEVEL: clean rolls have only 0, 128 and the
# onset band 192..255, and a generator's soft output must be clearly closer to a note than to silence to count.
DEFAULT_THRESHOLD = 64
PIANO_PROGRAM = 0  # General MIDI Acoustic Grand Piano


def roll_to_notes(roll: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """Decode a (106, T) roll into notes (n, 4) int64: pitch, start step, end step (exclusive), velocity.

    A note starts at every sounding onset pixel (>= ONSET_THRESHOLD, midi2img.spec) and at
    every sounding pixel after a silent one (column 0 counts as after silence); it ends
    where the pixel stops sounding or the next onset begins. A note that starts on an onset
    pixel has that pixel's velocity (level_to_velocity), any other DEFAULT_VELOCITY: its
    attack is not in the image. Rows sorted by start, then pitch.
    """
    roll = np.asarray(roll)
    if roll.ndim != 2 or roll.shape[0] != N_PITCHES:
        raise ValueError(f"roll must have shape ({N_PITCHES}, T), got {roll.shape}")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    n_steps = roll.shape[1]
    if n_steps == 0:
        return empty_notes()
    sounding = roll >= threshold
    after_silence = np.ones_like(sounding)
    after_silence[:, 1:] = ~sounding[:, :-1]
    starts = sounding & ((roll >= ONSET_THRESHOLD) | after_silence)
    # A note ends at the first later column that is silent or starts a note; a spare
    # always-true column per row ends notes that run to the right edge.
    width = n_steps + 1
    boundary = np.ones((N_PITCHES, width), dtype=bool)
    boundary[:, :n_steps] = starts | ~sounding
    boundary_flat = np.flatnonzero(boundary)
    rows, cols = np.nonzero(starts)
    start_flat = rows * width + cols
    end_flat = boundary_flat[np.searchsorted(boundary_flat, start_flat, side="right")]
    level = roll[rows, cols]
    velocity = np.where(level >= ONSET_THRESHOLD, level_to_velocity(level), DEFAULT_VELOCITY)
    notes = np.stack([row_to_pitch(rows), cols, end_flat - rows * width, velocity], axis=1).astype(np.int64)
    return notes[np.lexsort((notes[:, 0], notes[:, 1]))]


def roll_to_loop_notes(roll: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """Decode a (106, T) roll as a ring into (n, 4) notes: they start in 0..T-1, one sounding across the loop
    point ends after T.

    A pixel in column 0 continues the last column's note instead of counting as after silence.
    A pitch that sounds in every column without any onset is one note over the whole loop, at
    DEFAULT_VELOCITY (it has no attack in the image).
    """
    roll = np.asarray(roll)
    n_steps = roll.shape[1]
    notes = roll_to_notes(np.concatenate([roll, roll, roll], axis=1), threshold)
    middle = (notes[:, 1] >= n_steps) & (notes[:, 1] < 2 * n_steps)
    notes = notes[middle] - np.array([0, n_steps, n_steps, 0])
    sounding = roll >= (DEFAULT_THRESHOLD if threshold is None else threshold)
    drones = np.flatnonzero(sounding.all(axis=1) & ~(roll >= ONSET_THRESHOLD).any(axis=1))
    if len(drones):
        held = np.stack([row_to_pitch(drones), np.zeros_like(drones), np.full_like(drones, n_steps),
                         np.full_like(drones, DEFAULT_VELOCITY)], axis=1)
        notes = np.concatenate([notes, held.astype(np.int64)])
    return notes[np.lexsort((notes[:, 0], notes[:, 1]))]


def rotate_loop_notes(notes: np.ndarray, shift: int, n_steps: int) -> np.ndarray:
    """A loop's notes as heard when it starts `shift` steps later: same ring of music, new loop point."""
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS)).copy()
    starts = (notes[:, 1] - shift) % n_steps
    notes[:, 1], notes[:, 2] = starts, starts + notes[:, 2] - notes[:, 1]
    return notes[np.lexsort((notes[:, 0], notes[:, 1]))]


def decode_piece(roll: np.ndarray, threshold: int | None, loop: bool, velocities: bool = True) -> np.ndarray:
    """Notes of a generated piece's roll (a loop's as a ring); rows above C8 are no piano key, so notes there
    are dropped.

    Without `velocities` (a generator that draws none: its onsets all read as the loudest), the
    velocities are played by img2midi.dynamics from the notes themselves.
    """
    notes = roll_to_loop_notes(roll, threshold) if loop else roll_to_notes(roll, threshold)
    notes = notes[notes[:, 0] <= PIANO_HIGHEST]
    return notes if velocities else perform(notes)


def struck_mask(roll: np.ndarray, notes: np.ndarray) -> np.ndarray:
    """(n,) bool: which of a roll's notes begin on an onset pixel, so that their velocity was played, not defaulted."""
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
    return np.asarray(roll)[pitch_to_row(notes[:, 0]), notes[:, 1]] >= ONSET_THRESHOLD


def notes_to_midi(notes: np.ndarray, bpm: float = 120.0,
                  steps_per_beat: int = STEPS_PER_BEAT) -> pretty_midi.PrettyMIDI:
    """One-piano PrettyMIDI of (n, 4) notes at a constant tempo, each at its own velocity.

    Step s sounds at s * 60 / (bpm * steps_per_beat) s.
    """
    seconds_per_step = 60.0 / (bpm * steps_per_beat)
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    piano = pretty_midi.Instrument(program=PIANO_PROGRAM, name="Piano")
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, len(NOTE_COLUMNS))
    times = notes[:, 1:3] * seconds_per_step
    piano.notes = [pretty_midi.Note(velocity=int(v), pitch=int(p), start=float(s), end=float(e))
                   for p, (s, e), v in zip(notes[:, 0], times, notes[:, 3], strict=True)]
    pm.instruments.append(piano)
    return pm
