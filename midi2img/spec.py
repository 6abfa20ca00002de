"""The piano-roll image format that every stage shares.

An image is an 8-bit grayscale array of 106 rows x 300 columns. Row 0 is the
highest pitch (MIDI 126), row 105 the lowest (MIDI 21, piano A0), as piano-roll
viewers draw it. A column is one step: a sixteenth note (a quarter of a beat) of
the MIDI file's own tempo map, so tempo changes bend time, not the grid.

Pixel levels keep repeated notes apart: the first step of a note is ONSET_LEVEL,
its later steps SUSTAIN_LEVEL, silence 0. A decoder starts a note at every onset
pixel and at every sounding pixel that follows silence.

Notes travel between the pure cores as an int64 array of shape (n, 3):
columns pitch, start step, end step (exclusive), see ``NOTE_COLUMNS``.
"""

from __future__ import annotations

import numpy as np

LOWEST_PITCH = 21
N_PITCHES = 106
HIGHEST_PITCH = LOWEST_PITCH + N_PITCHES - 1  # 126
WINDOW_STEPS = 300
STEPS_PER_BEAT = 4
IMAGE_SHAPE = (N_PITCHES, WINDOW_STEPS)

ONSET_LEVEL = 255
SUSTAIN_LEVEL = 128

NOTE_COLUMNS = ("pitch", "start", "end")


def empty_notes() -> np.ndarray:
    """A notes array with no rows."""
    return np.zeros((0, 3), dtype=np.int64)


def pitch_to_row(pitch: np.ndarray | int) -> np.ndarray | int:
    """Image row of a MIDI pitch (highest pitch on top)."""
    return HIGHEST_PITCH - pitch


def row_to_pitch(row: np.ndarray | int) -> np.ndarray | int:
    """MIDI pitch of an image row."""
    return HIGHEST_PITCH - row
