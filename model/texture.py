"""Texture classes of a window: how busy, how wide and how loud it is, each in thirds of the training rolls.

Generators trained without them drew every window alike (onsets a second, pitch span and loudness
varied a third as much between windows as a pianist's do), and a classifier told them from real
music by that alone. Conditioned on the texture of each training window (`train --textures`),
and asked for the training windows' mix of textures, a generator draws the real spread; asked for
one (`sample --style sparse+soft`), it draws that.

A class is named `texture-d<i>-r<j>-v<k>`: density, pitch span ("range") and loudness ("velocity"),
each tercile 0, 1 or 2 by the cuts of the training set.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from tqdm import tqdm

from img2midi.core import DEFAULT_THRESHOLD
from midi2img.rollpng import read_roll_png
from midi2img.spec import DEFAULT_VELOCITY, ONSET_THRESHOLD, level_to_velocity
from midi2img.styles import ERAS
from model.dcgan import ROWS_ABOVE_PIANO
from model.generate import style_input

PREFIX = "texture-"
NAME = re.compile(r"^texture-d([012])-r([012])-v([012])$")
# A request's words, per axis (density, span, loudness), for its thirds from low to high.
WORDS = (("sparse", "moderate", "busy"), ("narrow", "mid-range", "wide"), ("soft", "medium", "loud"))


def measure(pixels: np.ndarray) -> np.ndarray:
    """(density, span, loudness) of a uint8 (106, 300) roll: the sounding share of the piano's keys, the
    semitones from its lowest to its highest sounding key, and its onsets' mean velocity."""
    keys = pixels[ROWS_ABOVE_PIANO:]
    sounding = keys >= DEFAULT_THRESHOLD
    rows = np.flatnonzero(sounding.any(axis=1))
    onsets = keys[keys >= ONSET_THRESHOLD]
    return np.array([sounding.mean(), rows[-1] - rows[0] if len(rows) else 0.0,
                     level_to_velocity(onsets).mean() if len(onsets) else DEFAULT_VELOCITY], np.float64)


def measure_files(paths: list[Path], stage: str) -> np.ndarray:
    """(n, 3) measures of roll files, read one at a time (a training folder would not fit in memory at once)."""
    return np.array([measure(read_roll_png(path)) for path in tqdm(paths, desc=f"{stage}: textures", unit="roll",
                                                                    leave=False)])


def cuts(measures: np.ndarray) -> np.ndarray:
    """(2, 3): the cuts between the thirds of (n, 3) measures, axis by axis."""
    return np.quantile(measures, [1 / 3, 2 / 3], axis=0)


def thirds(measures: np.ndarray, cut: np.ndarray) -> np.ndarray:
    """(n, 3) measures -> (n, 3) thirds 0..2 by `cut`."""
    return (measures[:, None, :] > cut[None]).sum(axis=1)


def class_names(rolls_thirds: np.ndarray) -> list[str]:
    return [f"{PREFIX}d{d}-r{r}-v{v}" for d, r, v in rolls_thirds]


CLASSES = tuple(class_names(np.indices((3, 3, 3)).reshape(3, -1).T))  # all 27, in a fixed order


def era_mixes(classes: list[str], eras: list[str | None]) -> tuple[float, ...]:
    """Each era's (midi2img.styles.ERAS) shares of the texture classes among rolls of that era, flattened
    (eras x CLASSES); () where some era has no rolls (no styles.csv, or a folder without that era)."""
    mixes = np.zeros((len(ERAS), len(CLASSES)))
    for name, era in zip(classes, eras, strict=True):
        if era in ERAS:
            mixes[ERAS.index(era), CLASSES.index(name)] += 1
    if (mixes.sum(axis=1) == 0).any():
        return ()
    return tuple(np.round(mixes / mixes.sum(axis=1, keepdims=True), 6).ravel().tolist())


def is_texture(name: str) -> bool:
    return NAME.match(name) is not None


def are_textures(names: tuple[str, ...]) -> bool:
    """Whether a run's or generator's classes are texture classes (`train --textures`)."""
    return bool(names) and all(is_texture(name) for name in names)


def texture_layer(generator):
    """The style layer (names, shares, cuts) of a generator trained with `--textures`; None for any other."""
    layer = style_input(generator)
    return layer if layer is not None and are_textures(layer.names) else None


def class_thirds(name: str) -> tuple[int, int, int]:
    d, r, v = NAME.match(name).groups()
    return int(d), int(r), int(v)


def class_coordinates(names: tuple[str, ...]) -> np.ndarray:
    """(classes, k) where each class lies, for comparing rolls class by class (distribution_matching_loss):
    texture classes by their thirds, so that neighbouring textures count as near; other classes one apart each."""
    if are_textures(names):
        return np.array([class_thirds(name) for name in names], np.float32)
    return np.eye(len(names), dtype=np.float32)


def word_bounds(cuts: tuple[float, ...]) -> list[str]:
    """Per axis, where its words part in the training rolls: 'sparse < 4.3% < moderate < 6.3% < busy (...)'."""
    low, high = np.reshape(cuts, (2, 3))
    shown = ((lambda x: f"{100 * x:.1f}%", "of the keys sounding"),
             (lambda x: f"{x:.0f}", "semitones, lowest to highest"), (lambda x: f"{x:.0f}", "mean onset velocity"))
    return [f"{words[0]} < {form(lo)} < {words[1]} < {form(hi)} < {words[2]}  ({unit})"
            for words, (form, unit), lo, hi in zip(WORDS, shown, low, high, strict=True)]


def describe(name: str) -> str:
    """'texture-d0-r2-v1' -> 'sparse+wide+medium', the request that asks for exactly it."""
    return "+".join(WORDS[axis][third] for axis, third in enumerate(class_thirds(name)))


def classes_of(generator, rolls: np.ndarray) -> np.ndarray | None:
    """(n, classes) one-hot: each of (n, 106, 300) `rolls`' texture class, cut where the generator's training
    cut; None for a generator without texture classes or one saved before it kept its cuts."""
    layer = texture_layer(generator)
    if layer is None or not layer.cuts:
        return None
    names = class_names(thirds(np.array([measure(roll) for roll in rolls]), np.reshape(layer.cuts, (2, 3))))
    return np.eye(len(layer.names), dtype=np.float32)[[layer.names.index(name) for name in names]]


def matches(request: str, name: str) -> bool:
    """Whether texture class `name` is what `request` asks: the name itself, or words joined by '+'
    ('sparse', 'busy+loud')."""
    if request == name:
        return True
    wanted = class_thirds(name)
    for word in request.split("+"):
        if not any(word in axis_words and axis_words.index(word) == wanted[axis]
                   for axis, axis_words in enumerate(WORDS)):
            return False
    return True
