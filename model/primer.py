"""The user's own music as a starting point: a primer MIDI read, cut and inverted into the latent space.

`continue` starts a piece with the primer's notes and carries on from its latent; `sample --like`
draws variations near it; `morph` walks from one primer's latent to another's. The generated
notes are then moved into the primer's key and register (`img2midi.mood.into_key`), as a
musician continuing someone's theme would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from img2midi.mood import into_key, key_of
from midi2img.core import notes_to_roll
from midi2img.io import MidiError, drum_notes, parse_midi, read_midi_notes
from midi2img.spec import NOTE_COLUMNS, STEPS_PER_BEAT, WINDOW_STEPS, pitch_class_histogram
from model.invert import Inversion, invert
from model.longform import morph_anchors
from model.options import RANGES
from model.texture import classes_of

MAX_PRIMER_SECONDS = RANGES["primer_seconds"].high  # of a primer kept as written
REGISTER_SPREAD = 18  # generated notes are placed within the primer's mean pitch +- this
SCALE_SHARE = 0.04  # a pitch class the primer sounds at least this share of the time is one of its own


@dataclass(frozen=True)
class Primer:
    """A primer's notes (n, 4) on the step grid, cut to `steps`, and the tempo it was written at."""

    path: Path
    notes: np.ndarray
    steps: int
    bpm: float

    @property
    def roll(self) -> np.ndarray:
        return notes_to_roll(self.notes, self.steps)

    def last_window(self) -> np.ndarray:
        """Its last WINDOW_STEPS steps as a roll (silence before a shorter primer): what a continuation follows."""
        roll = self.roll[:, -WINDOW_STEPS:]
        return np.pad(roll, ((0, 0), (WINDOW_STEPS - roll.shape[1], 0)))

    def into_its_key(self, notes: np.ndarray) -> np.ndarray:
        """Generated notes moved into this primer's key, onto the pitch classes it uses, and into its register.

        The pitch classes are the primer's own (those holding at least SCALE_SHARE of its sounding
        time), not a textbook scale: a chromatic primer keeps its chromatic notes.
        """
        key = key_of(self.notes)
        if key is None or not len(notes):
            return np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
        tonic, mode, _ = key
        shares = pitch_class_histogram(self.notes, by_duration=True)
        scale = tuple(int(c) for c in np.flatnonzero(np.roll(shares, -tonic) >= SCALE_SHARE))
        return into_key(notes, tonic, mode, scale, centre=float(self.notes[:, 0].mean()), spread=REGISTER_SPREAD)


def read_primer(path: Path, seconds: float | None, bpm: float | None, stage: str) -> Primer:
    """The primer's first `seconds` (None: its first window, WINDOW_STEPS steps, which is all that
    `--like` and `morph` match), at its first tempo unless `bpm` is given.

    Stops with one line naming the file and the reason for anything that cannot be a primer.
    """
    path = Path(path)
    try:
        notes, _ = read_midi_notes(path)
        tempos = parse_midi(path).tempos
    except MidiError as error:
        raise SystemExit(f"{stage}: {path}: {error}") from None
    if not len(notes):
        drums = drum_notes(path)
        reason = f"only drums ({drums} notes on channel 10)" if drums else "no notes"
        raise SystemExit(f"{stage}: {path}: {reason}; a primer needs piano notes")
    bpm = bpm or (float(tempos[0].qpm) if len(tempos) else 120.0)
    seconds_per_step = 60.0 / (bpm * STEPS_PER_BEAT)
    end = min(int(notes[:, 2].max()), WINDOW_STEPS if seconds is None else round(seconds / seconds_per_step))
    if end * seconds_per_step > MAX_PRIMER_SECONDS + 1e-9:
        raise SystemExit(f"{stage}: {path}: {end * seconds_per_step:.0f} s of primer is longer than the "
                         f"{MAX_PRIMER_SECONDS:g} s allowed; give --primer-seconds")
    notes = notes[notes[:, 1] < end].copy()
    notes[:, 2] = np.minimum(notes[:, 2], end)
    if not len(notes):
        raise SystemExit(f"{stage}: {path}: no notes in its first {end * seconds_per_step:.1f} s")
    return Primer(path, notes, end, bpm)


def invert_primers(generator: keras.Model, primers: list[Primer], seed: int) -> tuple[Inversion, np.ndarray | None]:
    """(each primer's last window inverted, (len(primers), classes) or None): for a generator with texture
    classes, each window's own class, in which it is inverted and continued."""
    windows = np.stack([p.last_window() for p in primers])
    styles = classes_of(generator, windows)
    return invert(generator, windows, seed, styles), styles


def held_styles(styles: np.ndarray | None, count: int) -> Callable[[int], np.ndarray | None]:
    """A Source's `plan` holding one primer's (1, classes) style weights for every step of `count` pieces."""
    return lambda steps: None if styles is None else np.broadcast_to(styles[0], (count, steps, styles.shape[1])).copy()


def variations(latent: np.ndarray, count: int, spread: float, seed: int) -> np.ndarray:
    """`count` latents around `latent`: each moved by `spread` times a random direction of a latent's length.

    Spread 0 gives the primer's own latent each time; 1, a step as long as a random latent.
    """
    rng = np.random.default_rng([seed, 10])
    directions = rng.standard_normal((count, len(latent)))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return (latent + spread * np.sqrt(len(latent)) * directions).astype("float32")


@dataclass(frozen=True)
class Source:
    """Where a piece starts from when it is the user's music: what `sample` draws from instead of chance.

    `anchors(steps)` gives, for pieces of that many generated steps, (count, k, dim): the first k
    anchors of each piece's latent path; `fit` moves a piece's generated notes into the primers'
    keys and registers; `plan(steps)` gives (count, steps, classes) style weights, the primers'
    textures, or None (model/texture.py: classes_of); with `primer`, the piece begins with
    that primer's notes as written and the generated music follows (continue).
    """

    anchors: Callable[[int], np.ndarray]
    fit: Callable[[np.ndarray, int], np.ndarray]
    plan: Callable[[int], np.ndarray | None]
    primer: Primer | None = None


def continuation(generator: keras.Model, primer: Primer, count: int, seed: int) -> Source:
    """`count` continuations of the primer: each path starts at its last window's latent."""
    found, styles = invert_primers(generator, [primer], seed)
    anchors = np.repeat(found.latent[None], count, axis=0)
    return Source(lambda _: anchors, lambda notes, _: primer.into_its_key(notes),
                  held_styles(styles, count), primer)


def likeness(generator: keras.Model, primer: Primer, count: int, spread: float, seed: int) -> Source:
    """`count` variations: paths that start near the primer's latent, in its key and register."""
    found, styles = invert_primers(generator, [primer], seed)
    anchors = variations(found.latent[0], count, spread, seed)[:, None]
    return Source(lambda _: anchors, lambda notes, _: primer.into_its_key(notes),
                  held_styles(styles, count))


def morph(generator: keras.Model, first: Primer, last: Primer, count: int, seed: int) -> Source:
    """Pieces whose path runs from the first primer's latent to the last's; the first half in the first's key
    and register, the second half in the last's."""
    found, styles = invert_primers(generator, [first, last], seed)
    a, b = found.latent

    def fit(notes: np.ndarray, steps: int) -> np.ndarray:
        notes = np.asarray(notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
        early = notes[:, 1] < steps // 2
        together = np.concatenate([first.into_its_key(notes[early]), last.into_its_key(notes[~early])])
        return together[np.lexsort((together[:, 0], together[:, 1]))]

    def plan(steps: int) -> np.ndarray | None:
        """The first primer's texture for the first half, the last's for the second."""
        if styles is None:
            return None
        halves = np.repeat(styles, [steps // 2, steps - steps // 2], axis=0)
        return np.broadcast_to(halves, (count, *halves.shape)).copy()

    return Source(lambda steps: np.repeat(morph_anchors(a, b, steps)[None], count, axis=0), fit, plan)


USES = ("continue", "like", "morph")


def from_primers(generator: keras.Model, use: str, paths: list[Path], count: int, seed: int, bpm: float | None,
                 stage: str, variation: float = 0.3, seconds: float = 30.0) -> tuple[Source, float]:
    """(the Source of `count` pieces that `use` the primers at `paths`, the tempo the pieces take).

    continue: one primer, its first `seconds` kept; like: one primer, variations `variation` away;
    morph: two primers, the first to the last. The tempo is `bpm`, else the first primer's.
    """
    if use not in USES or len(paths) != (2 if use == "morph" else 1):
        raise ValueError(f"{use!r} with {len(paths)} primers")
    first = read_primer(paths[0], seconds if use == "continue" else None, bpm, stage)
    if use == "continue":
        return continuation(generator, first, count, seed), first.bpm
    if use == "like":
        return likeness(generator, first, count, variation, seed), first.bpm
    last = read_primer(paths[1], None, first.bpm, stage)
    return morph(generator, first, last, count, seed), first.bpm
