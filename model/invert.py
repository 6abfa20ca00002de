"""GAN inversion: the latent vectors whose generated rolls best match given rolls. Arrays in, arrays out.

With a 14-dimensional latent this is cheap: many random latents are scored by one forward pass
each, the best few are refined by gradient descent through the generator (its snapped output
passes gradients straight through), and the best of those is kept. The loss is a soft Dice (F1)
over sounding and onset pixels: it rewards drawing the target's notes, so that silence never
matches a sparse roll well.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from img2midi.core import roll_to_notes
from midi2img.spec import ONSET_MIN_LEVEL, SUSTAIN_LEVEL
from model.generate import generate_rolls, generator_input, latent_dim, latents
from model.step import compile_step, value_and_gradients

CANDIDATES = 64  # random latents scored per roll
REFINED = 4  # of which the best are refined
STEPS = 30  # gradient steps
LEARNING_RATE = 0.1


class Inversion(NamedTuple):
    latent: np.ndarray  # (n, dim)
    onset_f1: np.ndarray  # (n,) onset F1 of the decoded reconstruction against the target's notes


def pixel_targets(rolls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sounding, onset) 0/1 float32 maps of uint8 rolls (n, 106, T)."""
    rolls = np.asarray(rolls)
    return (rolls >= SUSTAIN_LEVEL // 2).astype("float32"), (rolls >= ONSET_MIN_LEVEL).astype("float32")


def soft_dice_loss(generated, sounding, onsets):
    """Per roll, 2 - Dice(sounding) - Dice(onsets), on the generator's output in [-1, 1] (n, 106, T, 1)."""
    # Smooth in the pixel, so that the straight-through gradient reaches every pixel: silence 0,
    # sustain about 1/2 (1/4 as an onset), onset 1.
    drawn = (ops.cast(generated[..., 0], "float32") + 1.0) / 2.0
    struck = drawn * drawn

    def dice(p, t):
        return 2 * ops.sum(p * t, axis=(1, 2)) / (ops.sum(p, axis=(1, 2)) + ops.sum(t, axis=(1, 2)) + 1.0)

    return 2.0 - dice(drawn, sounding) - dice(struck, onsets)


def onset_f1(found: np.ndarray, wanted: np.ndarray) -> float:
    """F1 of (pitch, start) pairs: the notes a reconstruction strikes against the target's."""
    a, b = {tuple(n[:2]) for n in found}, {tuple(n[:2]) for n in wanted}
    return 2 * len(a & b) / (len(a) + len(b)) if a or b else 1.0


def invert(generator: keras.Model, rolls: np.ndarray, seed: int = 0, styles: np.ndarray | None = None) -> Inversion:
    """The latent whose generated roll best matches each of `rolls` (n, 106, 300) uint8; for a style-conditioned
    generator, drawn in `styles` (n, classes) (default: its average style)."""
    rolls = np.asarray(rolls)
    dim = latent_dim(generator)
    sounding, onsets = pixel_targets(rolls)

    def loss(trainable, sounding, onsets, style):
        per_roll = soft_dice_loss(generator(generator_input(generator, trainable[0], style), training=False),
                                  sounding, onsets)
        return ops.sum(per_roll), per_roll

    def style_of(index: int, count: int) -> np.ndarray | None:
        return None if styles is None else np.repeat(np.asarray(styles, np.float32)[index:index + 1], count, 0)

    step = compile_step(value_and_gradients(loss))
    found = []
    for index in range(len(rolls)):
        z = latents([seed, 9, index], CANDIDATES, dim)
        scores = np.concatenate([keras.ops.convert_to_numpy(soft_dice_loss(
            generator(generator_input(generator, z[i:i + 16], style_of(index, 16)), training=False),
            sounding[index:index + 1], onsets[index:index + 1])) for i in range(0, CANDIDATES, 16)])
        z = z[np.argsort(scores)[:REFINED]]
        first, second = np.zeros_like(z), np.zeros_like(z)  # Adam's moments, per latent
        targets = (np.repeat(sounding[index:index + 1], REFINED, 0), np.repeat(onsets[index:index + 1], REFINED, 0),
                   style_of(index, REFINED))
        best, best_loss = z.copy(), np.full(REFINED, np.inf)
        for t in range(1, STEPS + 1):
            _, per_roll, (gradient,) = step([ops.convert_to_tensor(z)], *targets)
            per_roll, gradient = keras.ops.convert_to_numpy(per_roll), keras.ops.convert_to_numpy(gradient)
            better = per_roll < best_loss
            best[better], best_loss[better] = z[better], per_roll[better]
            first = 0.9 * first + 0.1 * gradient
            second = 0.999 * second + 0.001 * gradient ** 2
            z = z - LEARNING_RATE * (first / (1 - 0.9 ** t)) / (np.sqrt(second / (1 - 0.999 ** t)) + 1e-8)
        found.append(best[np.argmin(best_loss)])
    latent = np.stack(found).astype("float32")
    rebuilt = generate_rolls(generator, latent, styles)
    f1 = np.array([onset_f1(roll_to_notes(r), roll_to_notes(t)) for r, t in zip(rebuilt, rolls, strict=True)])
    return Inversion(latent, f1)
