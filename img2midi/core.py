"""Pure core of img2midi: a piano-roll array in, notes and a PrettyMIDI object out. No file I/O."""

from __future__ import annotations

import numpy as np
import pretty_midi

from midi2img.spec import (
    DEFAULT_VELOCITY,
    N_PITCHES,
    NOTE_COLUMNS,
    ONSET_THRESHOLD,
    STEPS_PER_BEAT,
    empty_notes,
    level_to_velocity,
    row_to_pitch,
)

__all__ = ["DEFAULT_THRESHOLD", "ONSET_THRESHOLD", "PIANO_PROGRAM", "notes_to_midi", "roll_to_notes"]

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
