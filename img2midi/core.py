"""Pure core of img2midi: a piano-roll array in, notes and a PrettyMIDI object out. No file I/O."""

from __future__ import annotations

import numpy as np
import pretty_midi

from midi2img.spec import N_PITCHES, ONSET_LEVEL, STEPS_PER_BEAT, SUSTAIN_LEVEL, empty_notes, row_to_pitch

# A pixel sounds from this level up. Half of SUSTAIN_LEVEL: clean rolls have only 0/128/255, and a
# generator's soft output must be clearly closer to a note than to silence to count.
DEFAULT_THRESHOLD = 64
# A sounding pixel from this level up starts a new note even right after another sounding pixel:
# midway between SUSTAIN_LEVEL (128) and ONSET_LEVEL (255), rounded up.
ONSET_THRESHOLD = (SUSTAIN_LEVEL + ONSET_LEVEL + 1) // 2  # 192
PIANO_PROGRAM = 0  # General MIDI Acoustic Grand Piano


def roll_to_notes(roll: np.ndarray, threshold: int | None = None) -> np.ndarray:
    """Decode a (106, T) roll into notes (n, 3) int64: pitch, start step, end step (exclusive).

    A note starts at every sounding onset pixel (>= ONSET_THRESHOLD) and at every
    sounding pixel after a silent one (column 0 counts as after silence); it ends
    where the pixel stops sounding or the next onset begins. Rows sorted by start, then pitch.
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
    notes = np.stack([row_to_pitch(rows), cols, end_flat - rows * width], axis=1).astype(np.int64)
    return notes[np.lexsort((notes[:, 0], notes[:, 1]))]


def notes_to_midi(notes: np.ndarray, bpm: float = 120.0, steps_per_beat: int = STEPS_PER_BEAT,
                  velocity: int = 80) -> pretty_midi.PrettyMIDI:
    """One-piano PrettyMIDI of the notes at a constant tempo; step s sounds at s * 60 / (bpm * steps_per_beat) s."""
    seconds_per_step = 60.0 / (bpm * steps_per_beat)
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    piano = pretty_midi.Instrument(program=PIANO_PROGRAM, name="Piano")
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, 3)
    times = notes[:, 1:] * seconds_per_step
    piano.notes = [pretty_midi.Note(velocity=velocity, pitch=int(p), start=float(s), end=float(e))
                   for p, (s, e) in zip(notes[:, 0], times, strict=True)]
    pm.instruments.append(piano)
    return pm
