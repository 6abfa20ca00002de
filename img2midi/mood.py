"""Moods: presets that give decoded notes one character, and the note edits they are made of. No I/O.

A mood sets the tempo of the MIDI, its loudness (the mean velocity: the decoded
velocities are all moved by one offset, so the dynamics the generator drew are kept),
the note density (the decoding threshold and at most so many notes starting per beat,
the strongest kept), how long notes ring at least, the register (the octave placement
whose mean pitch is nearest a centre, every note folded by octaves into centre +- spread)
and the key colour: the notes are transposed so that the tonic that best fits them
(Krumhansl-Kessler profile of the mood's mode) becomes the mood's tonic, then every
pitch outside the mood's scale moves to the nearest scale pitch (ties: the degree the
profile weighs more). Notes are (n, 4) arrays (midi2img.spec.NOTE_COLUMNS).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

from img2midi.scales import MAJOR_SCALE, MINOR_SCALE
from midi2img.core import quantize_notes
from midi2img.spec import (
    MAX_VELOCITY,
    MIN_VELOCITY,
    NOTE_COLUMNS,
    PIANO_HIGHEST,
    PIANO_LOWEST,
    STEPS_PER_BEAT,
    pitch_class_histogram,
    pitch_to_row,
)

MAJOR_PENTATONIC = (0, 2, 4, 7, 9)
PITCH_CLASS_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


@cache
def key_profile(mode: str) -> np.ndarray:
    """music21's Krumhansl-Kessler profile of "major" or "minor" (index 0: the tonic), 12 weights.
    Imported on first use: music21 takes about 2 s to import, which commands that need no key should not pay."""
    from music21.analysis.discrete import KrumhanslKessler

    profile = np.array(KrumhanslKessler().getWeights(mode))
    profile.setflags(write=False)  # cached: every caller shares this one array
    return profile


@dataclass(frozen=True)
class Mood:
    """One preset; README.md's mood table lists these values."""

    bpm: float
    velocity: int  # the piece's mean velocity; the notes' differences in velocity are kept (see mean_velocity)
    threshold: int  # pixel level from which a pixel sounds (img2midi's --threshold)
    notes_per_beat: int  # at most this many notes start in any beat; the strongest pixels win
    min_beats: float  # every note rings at least this many beats
    centre: int  # MIDI pitch the register's mean aims at
    spread: int  # every note is folded by octaves into centre - spread .. centre + spread
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor": the key profile the tonic is fitted with
    scale: tuple[int, ...]  # pitch classes above the tonic that notes are snapped to

    @property
    def key(self) -> str:
        pentatonic = " pentatonic" if len(self.scale) == 5 else ""
        return f"{PITCH_CLASS_NAMES[self.tonic]} {self.mode}{pentatonic}"


MOODS = {
    "uplifting": Mood(bpm=126, velocity=96, threshold=56, notes_per_beat=4, min_beats=0, centre=72, spread=12,
                      tonic=2, mode="major", scale=MAJOR_SCALE),
    "meditation": Mood(bpm=60, velocity=56, threshold=112, notes_per_beat=1, min_beats=2, centre=52, spread=12,
                       tonic=5, mode="major", scale=MAJOR_SCALE),
    "nature": Mood(bpm=84, velocity=64, threshold=96, notes_per_beat=1, min_beats=1, centre=82, spread=12,
                   tonic=7, mode="major", scale=MAJOR_PENTATONIC),
    "bittersweet": Mood(bpm=76, velocity=72, threshold=80, notes_per_beat=2, min_beats=1, centre=62, spread=12,
                        tonic=9, mode="minor", scale=MINOR_SCALE),
}


def fit_tonic(notes: np.ndarray, mode: str) -> int | None:
    """The tonic whose `mode` key profile correlates best with the notes' pitch classes (None: no tonal content)."""
    scores = key_correlations(notes, mode)
    return None if scores is None else int(np.argmax(scores))


def key_correlations(notes: np.ndarray, mode: str) -> np.ndarray | None:
    """Per tonic, the correlation of the notes' duration-weighted pitch classes with the `mode` key profile
    (a held note says more of the key than a passing one); None without tonal content."""
    histogram = pitch_class_histogram(notes, by_duration=True)
    if histogram.std() == 0:
        return None
    return np.array([np.corrcoef(histogram, np.roll(key_profile(mode), tonic))[0, 1] for tonic in range(12)])


def snap_offsets(tonic: int, mode: str, scale: tuple[int, ...]) -> np.ndarray:
    """Semitones that move each pitch class (index 0 = C) to the nearest pitch of the scale on `tonic`.

    Ties (a pitch a semitone from two scale pitches) go to the degree the mode's profile weighs more.
    """
    offsets = np.zeros(12, np.int64)
    for degree in range(12):
        candidates = [(abs(d), -key_profile(mode)[(degree + d) % 12], d) for d in range(-6, 7)
                      if (degree + d) % 12 in scale]
        offsets[(tonic + degree) % 12] = min(candidates)[2]
    return offsets


def fold_octaves(pitches: np.ndarray, low: int, high: int) -> np.ndarray:
    """Pitches moved by whole octaves into low..high (which must span at least an octave)."""
    pitches = np.asarray(pitches, np.int64)
    up = np.maximum(0, -(-(low - pitches) // 12))
    down = np.maximum(0, -(-(pitches - high) // 12))
    return pitches + 12 * (up - down)


def colour(notes: np.ndarray, mood: Mood) -> np.ndarray:
    """Notes moved into the mood's key (transposed to its tonic, snapped to its scale) and register."""
    return into_key(notes, mood.tonic, mood.mode, mood.scale, mood.centre, mood.spread)


def into_key(notes: np.ndarray, tonic: int, mode: str, scale: tuple[int, ...], centre: float,
             spread: int) -> np.ndarray:
    """Notes transposed so that the tonic that fits them best becomes `tonic`, snapped to `scale` on it, and
    placed by octaves so that their mean pitch is nearest `centre`, every note within centre +- spread."""
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS)).copy()
    if len(notes) == 0:
        return notes
    fitted = fit_tonic(notes, mode)
    shift = 0 if fitted is None else (tonic - fitted + 6) % 12 - 6
    pitches = notes[:, 0] + shift
    pitches = pitches + snap_offsets(tonic, mode, scale)[pitches % 12]
    octave = 12 * round((centre - pitches.mean()) / 12)
    low, high = max(PIANO_LOWEST, round(centre - spread)), min(PIANO_HIGHEST, round(centre + spread))
    placements = [fold_octaves(pitches + octave + 12 * k, low, high) for k in (-1, 0, 1)]
    notes[:, 0] = min(placements, key=lambda p: abs(p.mean() - centre))
    return notes


def key_of(notes: np.ndarray) -> tuple[int, str, tuple[int, ...]] | None:
    """(tonic, mode, scale) of the major or minor key that fits the notes best; None without tonal content."""
    scores = {mode: key_correlations(notes, mode) for mode in ("major", "minor")}
    if scores["major"] is None:
        return None
    mode = max(scores, key=lambda m: scores[m].max())
    return int(np.argmax(scores[mode])), mode, MAJOR_SCALE if mode == "major" else MINOR_SCALE


def transpose(notes: np.ndarray, semitones: int) -> np.ndarray:
    """Notes moved by `semitones`; any that leave the piano fold back in by octaves."""
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS)).copy()
    notes[:, 0] = fold_octaves(notes[:, 0] + semitones, PIANO_LOWEST, PIANO_HIGHEST)
    return notes


def note_strength(roll: np.ndarray, notes: np.ndarray, loop: bool) -> np.ndarray:
    """Sum of each note's pixel levels in the roll it was decoded from (a loop's notes may run past its end).

    An onset's level grows with its velocity, so of two notes alike the louder is the stronger.
    """
    roll = np.asarray(roll)
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
    ring = np.concatenate([roll, roll], axis=1) if loop else roll
    sums = np.zeros((ring.shape[0], ring.shape[1] + 1), np.int64)
    np.cumsum(ring, axis=1, out=sums[:, 1:])
    rows = pitch_to_row(notes[:, 0])
    return sums[rows, notes[:, 2]] - sums[rows, notes[:, 1]]


def keep_strongest(notes: np.ndarray, strength: np.ndarray, per_beat: int,
                   steps_per_beat: int = STEPS_PER_BEAT) -> np.ndarray:
    """At most `per_beat` notes starting in each beat: the strongest, ties to the earlier row; order kept."""
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
    beat = notes[:, 1] // steps_per_beat
    order = np.lexsort((np.arange(len(notes)), -np.asarray(strength), beat))
    rank = np.arange(len(notes)) - np.searchsorted(beat[order], beat[order], side="left")
    return notes[np.sort(order[rank < per_beat])]


def lengthen(notes: np.ndarray, min_steps: int, until: int | None = None) -> np.ndarray:
    """Notes made at least `min_steps` long, never past step `until` (None: no limit) unless already longer."""
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS)).copy()
    longer = notes[:, 1] + min_steps
    if until is not None:
        longer = np.minimum(longer, until)
    notes[:, 2] = np.maximum(notes[:, 2], longer)
    return notes


def merge_overlaps(notes: np.ndarray, loop_steps: int | None = None) -> np.ndarray:
    """One note per pitch at a time: a note is cut at the next onset of its pitch, same-onset duplicates merge.

    With loop_steps, the next onset may be after the loop point (a note ringing across it
    is cut where the same pitch starts again at the beginning).
    """
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
    if loop_steps is not None:
        notes = np.concatenate([notes, notes + np.array([0, loop_steps, loop_steps, 0])])
    # Notes are already on the step grid: one tick per step makes quantize_notes only merge and cut.
    merged, _ = quantize_notes(notes[:, 0], notes[:, 1], notes[:, 2], notes[:, 3], STEPS_PER_BEAT, STEPS_PER_BEAT)
    if loop_steps is not None:
        merged = merged[merged[:, 1] < loop_steps]
    return merged


def mean_velocity(notes: np.ndarray, target: int) -> np.ndarray:
    """Notes with every velocity moved by one offset so that their mean is `target` (as near as whole steps go).

    An offset, not a scaling: the contrasts the generator drew (accents, a soft inner voice,
    a crescendo) keep their size in velocity steps, so a quiet mood is quieter but not flatter.
    Velocities stay in 1..127; where that clips a few, the offset is the one whose clipped
    mean is nearest the target.
    """
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS)).copy()
    if len(notes) == 0:
        return notes
    velocity = notes[:, 3]
    moved = lambda offset: np.clip(velocity + offset, MIN_VELOCITY, MAX_VELOCITY)  # noqa: E731
    # The clipped mean never falls as the offset grows: bisect for the first offset reaching the target.
    low, high = MIN_VELOCITY - MAX_VELOCITY, MAX_VELOCITY - MIN_VELOCITY
    while low < high:
        middle = (low + high) // 2
        low, high = (low, middle) if moved(middle).mean() >= target else (middle + 1, high)
    below = moved(low - 1).mean()
    best = low - 1 if abs(below - target) <= abs(moved(low).mean() - target) else low  # ties: the quieter
    notes[:, 3] = moved(best)
    return notes


def arrange(notes: np.ndarray, roll: np.ndarray, mood: Mood | None, semitones: int = 0, loop: bool = False,
            steps_per_beat: int = STEPS_PER_BEAT) -> np.ndarray:
    """Decoded notes of `roll` -> the notes of the piece: the mood's density, lengths, key, register and loudness.

    Without a mood only the transposition applies, and the velocities stay as decoded.
    """
    notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
    n_steps = roll.shape[1]
    if mood is not None:
        notes = keep_strongest(notes, note_strength(roll, notes, loop), mood.notes_per_beat, steps_per_beat)
        notes = lengthen(notes, round(mood.min_beats * steps_per_beat), until=None if loop else n_steps)
        notes = colour(notes, mood)
    if semitones:
        notes = transpose(notes, semitones)
    notes = merge_overlaps(notes, n_steps if loop else None)
    return notes if mood is None else mean_velocity(notes, mood.velocity)
