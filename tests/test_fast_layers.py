"""The generator's fast layers compute what the stock Keras layers they replace compute, gradients included."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import layers, ops

from model.fast_layers import BatchNormalization, DoubledConv2D, PhasedConv2D
from model.step import value_and_gradients


def _same_function(fast: layers.Layer, stock: layers.Layer, x: np.ndarray, before=lambda x: x) -> None:
    """Same weights in, same outputs and same gradients (weights and input) out, to float32 rounding."""
    fast.build(x.shape)
    stock.build(before(x).shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") for w in fast.get_weights()]
    fast.set_weights(weights)
    stock.set_weights(weights)

    def loss_of(layer, transform):
        def loss(trainable, x):
            training = {"training": True} if isinstance(layer, layers.BatchNormalization) else {}
            out, _ = layer.stateless_call(trainable, layer.non_trainable_variables, transform(x), **training)
            return ops.sum(ops.sin(out)), out  # a loss whose gradient differs from pixel to pixel
        return value_and_gradients(loss)

    fast_loss, fast_out, fast_grads = loss_of(fast, lambda x: x)([v.value for v in fast.trainable_variables], x)
    stock_loss, stock_out, stock_grads = loss_of(stock, before)([v.value for v in stock.trainable_variables], x)
    np.testing.assert_allclose(ops.convert_to_numpy(fast_out), ops.convert_to_numpy(stock_out), atol=2e-4)
    for fast_grad, stock_grad in zip(fast_grads, stock_grads, strict=True):
        scale = np.abs(ops.convert_to_numpy(stock_grad)).max()
        np.testing.assert_allclose(ops.convert_to_numpy(fast_grad), ops.convert_to_numpy(stock_grad),
                                   atol=1e-4 * scale)
    assert [w.shape for w in fast.weights] == [w.shape for w in stock.weights]  # checkpoints move between them


@pytest.mark.parametrize("shape", [(2, 3, 5, 4), (3, 7, 19, 6)])
def test_doubled_convolution_is_doubling_then_a_3x3_convolution(shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    _same_function(DoubledConv2D(5), layers.Conv2D(5, 3, padding="same"), x,
                   before=lambda x: ops.convert_to_numpy(layers.UpSampling2D(2)(x)))
    assert DoubledConv2D(5).compute_output_shape(shape) == (shape[0], 2 * shape[1], 2 * shape[2], 5)


@pytest.mark.parametrize("size", [3, 5])
def test_phased_convolution_is_a_one_channel_convolution(size):
    x = np.random.default_rng(0).normal(size=(2, 12, 20, 6)).astype("float32")
    _same_function(PhasedConv2D(size, activation="tanh"), layers.Conv2D(1, size, padding="same", activation="tanh"), x)
    with pytest.raises(ValueError, match="odd square kernel"):
        PhasedConv2D(4)


def test_batch_normalization_trains_and_keeps_statistics_as_keras_does():
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(4, 6, 10, 5)).astype("float32")
    fast, stock = BatchNormalization(), layers.BatchNormalization()
    _same_function(fast, stock, x)
    fast(x, training=True)
    stock(x, training=True)
    for mine, theirs in zip(fast.get_weights(), stock.get_weights(), strict=True):  # moving mean and variance too
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ops.convert_to_numpy(fast(x)), ops.convert_to_numpy(stock(x)), atol=1e-5)


def test_a_generator_with_fast_layers_saves_and_loads(tmp_path):
    inputs = keras.Input((3, 5, 4))
    x = DoubledConv2D(6)(inputs)
    x = BatchNormalization()(x)
    outputs = PhasedConv2D(5, activation="tanh")(x)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "g.keras")
    loaded = keras.saving.load_model(tmp_path / "g.keras")
    x = np.random.default_rng(0).normal(size=(2, 3, 5, 4)).astype("float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(loaded(x)), ops.convert_to_numpy(model(x)))
    assert loaded.output.shape == (None, 6, 10, 1)
