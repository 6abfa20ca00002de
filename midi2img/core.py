"""Pure core of midi2img: tick-time note arrays in, piano-roll arrays out. No I/O.

Everything works on the file's own tick grid (one step = ticks_per_quarter /
steps_per_beat ticks), so tempo changes never shift notes off the beat grid.
Rounding is done in exact integer arithmetic (round half up), so the same file
always gives the same pixels on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from midi2img.spec import (
    HIGHEST_PITCH,
    LOWEST_PITCH,
    MAX_VELOCITY,
    MIN_VELOCITY,
    N_PITCHES,
    NOTE_COLUMNS,
    SUSTAIN_LEVEL,
    WINDOW_STEPS,
    empty_notes,
    pitch_to_row,
    velocity_to_level,
)

SUSTAIN_CC = 64
PEDAL_DOWN_VALUE = 64  # CC64 values >= 64 mean the pedal is down (General MIDI convention).


def ticks_to_steps(ticks: np.ndarray, ticks_per_quarter: int, steps_per_beat: int) -> np.ndarray:
    """Nearest step of each tick time, round half up, exact in integers (no float drift on long files)."""
    ticks = np.asarray(ticks, dtype=np.int64)
    return (2 * ticks * steps_per_beat + ticks_per_quarter) // (2 * ticks_per_quarter)


def pedal_intervals(times: np.ndarray, values: np.ndarray, last_tick: int) -> tuple[np.ndarray, np.ndarray]:
    """(down, up) tick times of each sustain-pedal press, from CC64 events in time order.

    Repeated "down" (or "up") values do not start a new press. A pedal still down
    at the end of the file goes up at last_tick (the track's last note-off), so
    held notes end with the music instead of running on forever.
    """
    times = np.asarray(times, dtype=np.int64)
    down = np.asarray(values) >= PEDAL_DOWN_VALUE
    previous = np.concatenate(([False], down[:-1]))
    presses = times[down & ~previous]
    releases = times[~down & previous]
    if len(releases) < len(presses):
        releases = np.append(releases, max(int(last_tick), int(presses[-1])))
    return presses, releases


def extend_by_pedal(ends: np.ndarray, presses: np.ndarray, releases: np.ndarray) -> np.ndarray:
    """Note-off tick times moved to the pedal release when the key is let go while the pedal is down."""
    ends = np.asarray(ends, dtype=np.int64)
    if len(presses) == 0 or len(ends) == 0:
        return ends
    idx = np.searchsorted(presses, ends, side="right") - 1
    safe = np.maximum(idx, 0)
    held = (idx >= 0) & (ends < releases[safe])
    return np.where(held, np.maximum(ends, releases[safe]), ends)


def quantize_notes(
    pitches: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    velocities: np.ndarray,
    ticks_per_quarter: int,
    steps_per_beat: int,
) -> tuple[np.ndarray, int]:
    """Tick-time notes -> (notes array (n, 4) on the step grid, number of notes dropped for pitch range).

    A note lasts at least one step. Notes of one pitch never overlap: a note that
    would run into the next onset of its pitch is cut there, so every repeated
    note keeps its own onset pixel. Two notes quantized onto the same pitch and
    step become one note: the longer one, with its own velocity (equal lengths:
    the one first in the input), so the sound that rings longest is the one kept.
    Velocities are clipped to 1..127.
    """
    pitches = np.asarray(pitches, dtype=np.int64)
    in_range = (pitches >= LOWEST_PITCH) & (pitches <= HIGHEST_PITCH)
    dropped = int(np.count_nonzero(~in_range))
    pitches = pitches[in_range]
    if len(pitches) == 0:
        return empty_notes(), dropped
    onset = ticks_to_steps(np.asarray(starts)[in_range], ticks_per_quarter, steps_per_beat)
    end = ticks_to_steps(np.asarray(ends)[in_range], ticks_per_quarter, steps_per_beat)
    end = np.maximum(end, onset + 1)
    velocity = np.clip(np.asarray(velocities, dtype=np.int64)[in_range], MIN_VELOCITY, MAX_VELOCITY)

    # Sort by pitch, onset, then longest first (stable), so the first row of a (pitch, onset) group is the one kept.
    order = np.lexsort((-end, onset, pitches))
    pitches, onset, end, velocity = pitches[order], onset[order], end[order], velocity[order]
    first = np.ones(len(pitches), dtype=bool)
    first[1:] = (pitches[1:] != pitches[:-1]) | (onset[1:] != onset[:-1])
    pitches, onset, end, velocity = pitches[first], onset[first], end[first], velocity[first]

    same_pitch_next = np.zeros(len(pitches), dtype=bool)
    same_pitch_next[:-1] = pitches[1:] == pitches[:-1]
    next_onset = np.where(same_pitch_next, np.roll(onset, -1), np.iinfo(np.int64).max)
    end = np.minimum(end, next_onset)

    notes = np.stack([pitches, onset, end, velocity], axis=1)
    return notes[np.lexsort((notes[:, 0], notes[:, 1]))], dropped


# Windows rasterized at once by iter_windows: 64 x 300 steps keeps the peak near 50 MB for any length.
CHUNK_WINDOWS = 64


def notes_to_roll(notes: np.ndarray, n_steps: int, first_step: int = 0) -> np.ndarray:
    """Rasterize notes into a uint8 (106, n_steps) roll of steps first_step .. first_step + n_steps - 1.

    Notes are (n, 4): pitch, start, end, velocity. A note's first step is
    velocity_to_level(velocity) (192..255), its later steps SUSTAIN_LEVEL. Parts of
    notes outside the span are cut off; a note that began before first_step and
    still sounds shows as sustain from column 0. Onset pixels win over overlapping
    sustain, so a decoder still sees every onset even for overlapping input; of two
    onsets on one pixel the louder wins (the same pixels whatever the input order).
    """
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, len(NOTE_COLUMNS))
    if np.any((notes[:, 0] < LOWEST_PITCH) | (notes[:, 0] > HIGHEST_PITCH)):
        raise ValueError(f"pitches must lie in {LOWEST_PITCH}..{HIGHEST_PITCH}")
    starts, ends = notes[:, 1] - first_step, notes[:, 2] - first_step
    first = 0 if first_step == 0 else -np.iinfo(np.int64).max  # at step 0 (the default) nothing came before
    keep = (starts >= first) & (starts < n_steps) & ((starts >= 0) | (ends > 0))
    rows, starts, levels = pitch_to_row(notes[keep, 0]), starts[keep], velocity_to_level(notes[keep, 3])
    ends = np.maximum(np.minimum(ends[keep], n_steps), starts + 1)
    onset = starts >= 0
    starts = np.maximum(starts, 0)
    width = n_steps + 1  # one spare column per row takes the -1 of notes that end at n_steps
    # +1 after the onset column (the onset pixel is set below); a note carried in sounds from column 0
    delta = np.bincount(rows * width + starts + onset, minlength=N_PITCHES * width)
    delta = delta - np.bincount(rows * width + np.maximum(ends, starts + 1), minlength=N_PITCHES * width)
    sounding = np.cumsum(delta.reshape(N_PITCHES, width), axis=1)[:, :n_steps] > 0
    roll = np.where(sounding, SUSTAIN_LEVEL, 0).astype(np.uint8)
    np.maximum.at(roll, (rows[onset], starts[onset]), levels[onset].astype(np.uint8))
    return roll


def iter_windows(notes: np.ndarray, chunk_windows: int = CHUNK_WINDOWS) -> Iterator[tuple[int, np.ndarray]]:
    """The (index, image) pairs of roll_windows(notes_to_roll(notes, last end)), a chunk of windows at a time.

    Same images, but memory is bounded by the chunk, not by the length of the piece.
    """
    notes = np.asarray(notes, dtype=np.int64).reshape(-1, len(NOTE_COLUMNS))
    if len(notes) == 0:
        return
    n_steps = int(notes[:, 2].max())
    chunk = chunk_windows * WINDOW_STEPS
    order = np.argsort(notes[:, 1], kind="stable")
    notes = notes[order]
    # The longest note bounds how far back a note that still sounds in a chunk can start.
    longest = int((notes[:, 2] - notes[:, 1]).max())
    for first_step in range(0, n_steps, chunk):
        span = min(chunk, n_steps - first_step)
        lo = np.searchsorted(notes[:, 1], first_step - longest, side="left")
        hi = np.searchsorted(notes[:, 1], first_step + span, side="left")
        roll = notes_to_roll(notes[lo:hi], span, first_step)
        offset = first_step // WINDOW_STEPS
        for index, image in roll_windows(roll):
            yield offset + index, image


def roll_windows(roll: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Split a roll into consecutive WINDOW_STEPS-wide images as (index, image); all-silent windows are skipped.

    Window i covers steps 300*i .. 300*i+299, so the index says where the image sits
    in the piece even when silent windows before it were skipped.
    """
    n_windows = -(-roll.shape[1] // WINDOW_STEPS)
    padded = np.zeros((roll.shape[0], n_windows * WINDOW_STEPS), dtype=np.uint8)
    padded[:, : roll.shape[1]] = roll
    windows = padded.reshape(roll.shape[0], n_windows, WINDOW_STEPS).transpose(1, 0, 2)
    return [(i, np.ascontiguousarray(w)) for i, w in enumerate(windows) if w.any()]
