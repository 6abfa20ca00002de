"""From latent vectors to uint8 piano rolls: the one place generator output becomes image pixels."""

from __future__ import annotations

import keras
import numpy as np

from model.data import tanh_to_pixels


def latents(seed: int | list[int], count: int, latent_dim: int) -> np.ndarray:
    """Standard-normal latent vectors, a pure function of the seed."""
    return np.random.default_rng(seed).standard_normal((count, latent_dim)).astype(np.float32)


def generate_rolls(generator: keras.Model, z: np.ndarray) -> np.ndarray:
    """(n, latent_dim) -> (n, 106, 300) uint8 rolls, mapping tanh's [-1, 1] onto [0, 255]."""
    return tanh_to_pixels(np.asarray(generator.predict_on_batch(z), dtype=np.float32)[..., 0])


def roll_grid(rolls: np.ndarray, columns: int = 2, gap: int = 2) -> np.ndarray:
    """Tile rolls into one image, separated by mid-gray lines, for checkpoint previews."""
    count, height, width = rolls.shape
    rows = -(-count // columns)
    grid = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap), 64, dtype=np.uint8)
    for i, roll in enumerate(rolls):
        r, c = divmod(i, columns)
        grid[r * (height + gap):r * (height + gap) + height, c * (width + gap):c * (width + gap) + width] = roll
    return grid
