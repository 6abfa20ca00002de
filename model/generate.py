"""From latent vectors to uint8 piano rolls: the one place generator output becomes image pixels."""

from __future__ import annotations

import keras
import numpy as np

from model.data import tanh_to_pixels
from model.dcgan import STYLE_INPUT, StyleWeights


def latents(seed: int | list[int], count: int, latent_dim: int) -> np.ndarray:
    """Standard-normal latent vectors, a pure function of the seed."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def style_input(generator: keras.Model) -> StyleWeights | None:
    """A style-conditioned generator's style layer (its class names and shares); None for one without styles."""
    try:
        return generator.get_layer(STYLE_INPUT)
    except ValueError:
        return None


def average_style(generator: keras.Model, count: int) -> np.ndarray | None:
    """(count, classes): every class at its share of the training rolls, for a generator with styles; else None."""
    layer = style_input(generator)
    return None if layer is None else np.tile(np.asarray(layer.shares, np.float32), (count, 1))


def latent_dim(generator: keras.Model) -> int:
    """The size of the generator's latent vector (its first input)."""
    shape = generator.input_shape
    return (shape[0] if isinstance(shape, list) else shape)[-1]


def generator_input(generator: keras.Model, z, styles: np.ndarray | None = None):
    """What the generator takes for latents `z`: z itself, or z with style weights (default: its average style)."""
    if style_input(generator) is None:
        return z
    weights = average_style(generator, len(z)) if styles is None else styles
    # Keras refuses a list that mixes arrays and tensors, and z may be either: both become tensors.
    return [keras.ops.convert_to_tensor(z, "float32"), keras.ops.convert_to_tensor(weights, "float32")]


def generate_rolls(generator: keras.Model, z: np.ndarray, styles: np.ndarray | None = None) -> np.ndarray:
    """(n, latent_dim) -> (n, 106, 300) uint8 rolls, mapping tanh's [-1, 1] onto [0, 255].

    A style-conditioned generator also takes (n, classes) style weights (see generator_input).
    """
    rolls = generator.predict_on_batch(generator_input(generator, z, styles))
    return tanh_to_pixels(np.asarray(rolls, dtype=np.float32)[..., 0])


def roll_grid(rolls: np.ndarray, columns: int = 2, gap: int = 2) -> np.ndarray:
    """Tile rolls into one image, separated by mid-gray lines, for checkpoint previews."""
    count, height, width = rolls.shape
    rows = -(-count // columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), 64, dtype=np.uint8)
    for i, roll in enumerate(rolls):
        r, c = divmod(i, columns)
        grid[r * (height + gap):r * (height + gap) + height, c * (width + gap):c * (width + gap) + width] = roll
    return grid
