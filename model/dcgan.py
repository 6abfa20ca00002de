"""The DCGAN: generator, discriminator and the combined model that trains the generator.

Plain Keras 3 layers and the train-on-batch pattern (a frozen discriminator
inside a combined model), so the same code runs on the TensorFlow, JAX and
PyTorch backends.
"""

from __future__ import annotations

import keras
from keras import layers

from midi2img.spec import N_PITCHES, WINDOW_STEPS
from model.config import TrainConfig

IMAGE_SHAPE = (N_PITCHES, WINDOW_STEPS, 1)


def mean_output(y_true, y_pred):
    """Mean discriminator output on a batch: the number the stop rule watches."""
    return keras.ops.mean(y_pred)


def build_generator(config: TrainConfig) -> keras.Model:
    """Latent vector -> 106x300x1 roll in [-1, 1]: dense to a 7x19 map, four doublings, crop to 106x300."""
    height, width = config.base_shape
    channels = config.generator_channels
    latent = keras.Input((config.latent_dim,), name="latent")
    x = layers.Dense(height * width * channels[0])(latent)
    x = layers.LeakyReLU(0.2)(x)
    x = layers.Reshape((height, width, channels[0]))(x)
    for filters in channels[1:] + (channels[-1],):
        # Nearest-neighbour doubling then a convolution: no checkerboard pattern, which stride-2
        # transposed convolutions left all over the rolls in a side-by-side run.
        x = layers.UpSampling2D(2)(x)
        x = layers.Conv2D(filters, 3, padding="same")(x)
        x = layers.BatchNormalization()(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Conv2D(1, 5, padding="same", activation="tanh")(x)
    extra_h, extra_w = height * 16 - N_PITCHES, width * 16 - WINDOW_STEPS
    if extra_h < 0 or extra_w < 0:
        raise ValueError(f"base_shape {config.base_shape} is too small for {IMAGE_SHAPE}")
    x = layers.Cropping2D(((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)))(x)
    return keras.Model(latent, x, name="generator")


def build_discriminator(config: TrainConfig) -> keras.Model:
    """106x300x1 roll -> probability that it is real (sigmoid, so 0.5 means 'cannot tell')."""
    image = keras.Input(IMAGE_SHAPE, name="roll")
    x = layers.GaussianNoise(config.input_noise)(image) if config.input_noise else image
    for filters in config.discriminator_channels:
        x = layers.Conv2D(filters, 4, strides=2, padding="same")(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(config.dropout)(x)
    x = layers.Dense(1, activation="sigmoid")(x)
    return keras.Model(image, x, name="discriminator")


def _optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    return keras.optimizers.Adam(learning_rate=config.learning_rate, beta_1=config.beta_1)


def build_dcgan(config: TrainConfig) -> tuple[keras.Model, keras.Model, keras.Model]:
    """Compiled (generator, discriminator, combined), with both optimizers built so their state can be restored.

    The discriminator's `trainable` flag is switched before each train_on_batch call
    (`discriminator.trainable = True` to train it, False to train the generator
    through it); `train_discriminator_step` and `train_generator_step` do that.
    """
    generator = build_generator(config)
    discriminator = build_discriminator(config)
    discriminator.compile(optimizer=_optimizer(config), loss="binary_crossentropy", metrics=[mean_output])
    discriminator.optimizer.build(discriminator.trainable_variables)

    discriminator.trainable = False
    latent = keras.Input((config.latent_dim,))
    combined = keras.Model(latent, discriminator(generator(latent)), name="dcgan")
    combined.compile(optimizer=_optimizer(config), loss="binary_crossentropy", metrics=[mean_output])
    combined.optimizer.build(combined.trainable_variables)
    discriminator.trainable = True
    return generator, discriminator, combined
