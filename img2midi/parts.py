"""Parts of a game track, on (n, 4) notes (pitch, start, end, velocity): voices for stems, an ending. Pure.

Adaptive game music fades layers in and out (vertical layering); here a piece's notes are
split into three voices by the skyline rule, the way a pianist's hands divide the music:
at every step where notes begin, the highest of them from middle C up is the melody, the
lowest below middle C is the bass, and every other note is inner harmony. A note is in
exactly one voice.
"""

from __future__ import annotations

import numpy as np

from midi2img.spec import STEPS_PER_BEAT

VOICES = ("bass", "harmony", "melody")
SPLIT_PITCH = 60  # middle C: the melody is struck from here up, the bass below it
ENDING_BEATS = 2  # an outro's last chord is held this long before the end, with no new note struck


def voice_of_each_note(notes: np.ndarray) -> np.ndarray:
    """Per note, its index in VOICES (skyline rule, see the module docstring)."""
    notes = np.asarray(notes, np.int64).reshape(-1, 4)
    voice = np.full(len(notes), VOICES.index("harmony"))
    for step in np.unique(notes[:, 1]):
        at = np.flatnonzero(notes[:, 1] == step)
        top, bottom = at[np.argmax(notes[at, 0])], at[np.argmin(notes[at, 0])]
        if notes[top, 0] >= SPLIT_PITCH:
            voice[top] = VOICES.index("melody")
        if notes[bottom, 0] < SPLIT_PITCH:
            voice[bottom] = VOICES.index("bass")
    return voice


def split_voices(notes: np.ndarray) -> dict[str, np.ndarray]:
    """{voice: its notes} for every voice in VOICES; together they hold each note exactly once."""
    notes = np.asarray(notes, np.int64).reshape(-1, 4)
    voice = voice_of_each_note(notes)
    return {name: notes[voice == i] for i, name in enumerate(VOICES)}


def hold_final_chord(notes: np.ndarray, end: int, hold_steps: int = ENDING_BEATS * STEPS_PER_BEAT) -> np.ndarray:
    """The notes of a piece that ends at step `end` on a held chord: nothing struck in the last `hold_steps`,
    and what was struck in the beat before them (the last chord, or a broken one) held to the end,
    to ring out after it. Notes that begin later are dropped; the others end by `end` at the latest.
    """
    notes = np.asarray(notes, np.int64).reshape(-1, 4)
    notes = notes[notes[:, 1] < max(1, end - hold_steps)]
    notes = notes[np.lexsort((notes[:, 1], notes[:, 0]))].copy()  # by pitch, then start
    if not len(notes):
        return notes
    held = notes[:, 1] > notes[:, 1].max() - STEPS_PER_BEAT
    last_of_pitch = np.append(notes[1:, 0] != notes[:-1, 0], True)  # a later note of the pitch takes over
    notes[held & last_of_pitch, 2] = end
    notes[:, 2] = np.minimum(notes[:, 2], end)
    return notes[np.lexsort((notes[:, 0], notes[:, 1]))]
