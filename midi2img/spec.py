"""The piano-roll image format that every stage shares.

An image is an 8-bit grayscale array of 106 rows x 300 columns. Row 0 is the
highest pitch (MIDI 126), row 105 the lowest (MIDI 21, piano A0), as piano-roll
viewers draw it. A column is one step: a sixteenth note (a quarter of a beat) of
the MIDI file's own tempo map, so tempo changes bend time, not the grid.

Pixel levels: silence 0; the later steps of a note SUSTAIN_LEVEL (128); a note's
first step (its onset) carries the note's velocity in the band ONSET_MIN_LEVEL
(192) .. ONSET_LEVEL (255), see ``velocity_to_level``: 64 levels for MIDI's 127
velocities, so a velocity comes back within VELOCITY_TOLERANCE (1). A decoder
starts a note at every onset pixel (from ONSET_THRESHOLD up) and at every sounding
pixel that follows silence; a note without an onset pixel gets DEFAULT_VELOCITY.
Images written before velocities were kept have every onset at 255: they still
decode, as the loudest velocity.

Notes travel between the pure cores as an int64 array of shape (n, 4):
columns pitch, start step, end step (exclusive), velocity, see ``NOTE_COLUMNS``.
"""

from __future__ import annotations

import numpy as np

LOWEST_PITCH = 21
N_PITCHES = 106
HIGHEST_PITCH = LOWEST_PITCH + N_PITCHES - 1  # 126
WINDOW_STEPS = 300
STEPS_PER_BEAT = 4
IMAGE_SHAPE = (N_PITCHES, WINDOW_STEPS)
MODEL_SHAPE = (*IMAGE_SHAPE, 1)  # a roll as the networks read and write it: one channel, values in [-1, 1]
PIANO_LOWEST, PIANO_HIGHEST = 21, 108  # A0..C8: what a piano can play; rows above C8 never sound in MAESTRO

ONSET_LEVEL = 255  # the loudest onset (velocity 126 and 127)
ONSET_MIN_LEVEL = 192  # the softest onset (velocity 1)
SUSTAIN_LEVEL = 128
# A sounding pixel from this level up is an onset and starts a new note even right after another
# sounding pixel. It is the bottom of the onset band, midway between SUSTAIN_LEVEL and ONSET_LEVEL
# (rounded up), so a generator's soft output must be nearer an onset than a sustain to strike.
ONSET_THRESHOLD = ONSET_MIN_LEVEL

MIN_VELOCITY, MAX_VELOCITY = 1, 127  # note-on velocities; 0 would be a note-off
VELOCITY_TOLERANCE = 1  # |decoded - original| velocity, at most, for every velocity 1..127
# The velocity of a decoded note with no onset pixel (a note carried in at column 0, or a sounding
# pixel after silence): the middle of MIDI's range (mezzo-forte), and MAESTRO's mean (64.4 over 40 pieces).
DEFAULT_VELOCITY = 64

NOTE_COLUMNS = ("pitch", "start", "end", "velocity")


def empty_notes() -> np.ndarray:
    """A notes array with no rows."""
    return np.zeros((0, len(NOTE_COLUMNS)), dtype=np.int64)


def pitch_class_histogram(notes: np.ndarray, by_duration: bool = False) -> np.ndarray:
    """How much of (n, 4) notes falls on each of the 12 pitch classes (C first): notes, or steps sounded.

    float64 counts; divide by their sum for shares.
    """
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
    weights = notes[:, 2] - notes[:, 1] if by_duration else None
    return np.bincount(notes[:, 0] % 12, weights=weights, minlength=12).astype(np.float64)


def velocity_to_level(velocity: np.ndarray | int) -> np.ndarray:
    """Onset pixel level of a MIDI velocity: ONSET_MIN_LEVEL + velocity // 2 (velocity clipped to 1..127).

    Two velocities share a level (2k and 2k+1), so the band's 64 levels hold all 127.
    """
    velocity = np.clip(np.asarray(velocity, dtype=np.int64), MIN_VELOCITY, MAX_VELOCITY)
    return np.minimum(ONSET_MIN_LEVEL + velocity // 2, ONSET_LEVEL)


def level_to_velocity(level: np.ndarray | int) -> np.ndarray:
    """MIDI velocity of an onset pixel level: 2 * (level - ONSET_MIN_LEVEL) + 1, the odd one of its pair.

    Odd velocities come back exactly, even ones one higher (VELOCITY_TOLERANCE); 255 is 127.
    Levels outside the onset band are clipped into it first.
    """
    level = np.clip(np.asarray(level, dtype=np.int64), ONSET_MIN_LEVEL, ONSET_LEVEL)
    return 2 * (level - ONSET_MIN_LEVEL) + MIN_VELOCITY


def pitch_to_row(pitch: np.ndarray | int) -> np.ndarray | int:
    """Image row of a MIDI pitch (highest pitch on top)."""
    return HIGHEST_PITCH - pitch


def row_to_pitch(row: np.ndarray | int) -> np.ndarray | int:
    """MIDI pitch of an image row."""
    return HIGHEST_PITCH - row
