"""The original repository's model, rebuilt from its description: the baseline every change is measured against.

    python pipeline.py train --preset seed2023

Apart from the product so that the default model (`model/dcgan.py`) reads on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
from keras import layers

from midi2img.spec import MODEL_SHAPE

if TYPE_CHECKING:
    from model.config import TrainConfig


# The preset: the original's optimizer and regularization, and every later addition off.
SETTINGS: dict[str, object] = {
    "architecture": "seed2023",
    "dropout": 0.4,
    "input_noise": 0.0,
    "spectral_norm": False,
    "minibatch_std": False,
    "snap_output": False,
    "strike_heads": False,
    "summary_view": False,
    "augment_shift": 0,
    "augment_transpose": 0,
    "optimizer": "rmsprop",
    "learning_rate": 1e-4,
    "clip_value": 1.0,
    "mode_seeking": 0.0,
    "onset_velocity": False,
    "piano_rows_only": False,
    "base_shape": (7, 19),
    "mixed_precision": False,
    "real_label": 1.0,
    "label_noise": 0.05,
    "ema": 0.0,
    "checkpoint_every": 25,
    "validation_rolls": 0,  # at about a second of CPU per generated roll, scoring would eat the budget
}


def build_generator(config: TrainConfig) -> keras.Model:
    """The original generator: dense to 14x40x128, three stride-2 transposed convolutions to 112x320,
    two 512-filter 5x5 convolutions there (about half a teraflop per image), then one (7, 21) valid
    convolution down to 106x300. LeakyReLU(0.3) after every hidden layer, no normalization."""
    latent = keras.Input((config.latent_dim,), name="latent")
    x = layers.Dense(14 * 40 * 128)(latent)
    x = layers.LeakyReLU(0.3)(x)
    x = layers.Reshape((14, 40, 128))(x)
    x = layers.LeakyReLU(0.3)(layers.Conv2D(256, 5, padding="same")(x))
    for _ in range(3):
        x = layers.LeakyReLU(0.3)(layers.Conv2DTranspose(256, 4, strides=2, padding="same")(x))
    for _ in range(2):
        x = layers.LeakyReLU(0.3)(layers.Conv2D(512, 5, padding="same")(x))
    x = layers.Conv2D(1, (7, 21), padding="valid", activation="tanh")(x)
    return keras.Model(latent, x, name="generator")


def build_discriminator(config: TrainConfig) -> keras.Model:
    """The original discriminator: a 3x3 and four stride-2 4x4 valid convolutions of 256 filters,
    LeakyReLU(0.3), dropout, one sigmoid unit."""
    image = keras.Input(MODEL_SHAPE, name="roll")
    x = layers.LeakyReLU(0.3)(layers.Conv2D(256, 3, padding="valid")(image))
    for _ in range(4):
        x = layers.LeakyReLU(0.3)(layers.Conv2D(256, 4, strides=2, padding="valid")(x))
    x = layers.Flatten()(x)
    x = layers.Dropout(config.dropout, seed=config.seed)(x)
    x = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(image, x, name="discriminator")
