"""The generator's layers computed another way: the same functions and weights, less work on a CPU.

Each class is a drop-in for a stock Keras layer (same weights, in the same order, same config), so
checkpoints move between the two forms; only the arithmetic differs, and only by rounding. The
cheaper forms are for TensorFlow's CPU kernels (oneDNN), the default backend; on JAX and torch the
layers compute as the stock ones do.
On this 2-core CPU they take a training step of 989073d's model from 26.6 to 19.5 CPU ms an image
(`bench/step_profile.py`, bench/results.md). Written by hand because no library ships these forms as Keras layers.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

# Nearest-neighbour doubling then a 3x3 'same' convolution reaches output row 2i+a from input rows i-1, i (a=0)
# or i, i+1 (a=1), with the 3x3 kernel's rows summed in pairs: taps [w0, w1+w2] and [w0+w1, w2]. As a stride-2
# transposed convolution (output row 2i + t - 1 for kernel tap t), those are the four taps below.
DOUBLED_TAPS = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0]], "float32")  # (transposed tap, 3x3 tap)


@keras.saving.register_keras_serializable(package="pianola")
class DoubledConv2D(layers.Conv2D):
    """Nearest-neighbour doubling, then this 3x3 'same' convolution (UpSampling2D(2) + Conv2D(filters, 3)).

    Computed on the TensorFlow backend as one stride-2 transposed convolution of the undoubled map
    with a 4x4 kernel summed from the 3x3 one: 16 multiplications an output pixel and input channel
    where the doubled map took 36, and the doubled map is never built. XLA's CPU transposed
    convolutions are slow, so JAX and torch double and convolve as the stock layers do.
    """

    def __init__(self, filters: int, **kwargs):
        kwargs.update(kernel_size=3, padding="same")
        super().__init__(filters, **kwargs)

    def convolution_op(self, inputs, kernel):
        if keras.backend.backend() != "tensorflow":
            doubled = ops.repeat(ops.repeat(inputs, 2, axis=1), 2, axis=2)
            return ops.conv(doubled, kernel, padding="same")
        taps = ops.convert_to_tensor(DOUBLED_TAPS, kernel.dtype)
        transposed = ops.einsum("pi,qj,ijco->pqoc", taps, taps, kernel)  # (4, 4, out, in), as conv_transpose wants
        return ops.conv_transpose(inputs, transposed, 2, padding="same")

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        return (batch, None if height is None else 2 * height, None if width is None else 2 * width, self.filters)

    def get_config(self):
        config = super().get_config()
        for fixed in ("kernel_size", "padding"):
            config.pop(fixed)
        return config


def _phase_taps(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Where a stride-2 kernel of size+1 taps finds the size-tap kernel's taps for output phases 0 and 1.

    Output pixel 2i+a with offset d in [-r, r] (r = size // 2) reads input row 2i+a+d, which is tap
    a+d+r of a stride-2 window that starts at row 2i-r. Returns (index, mask), each (size+1, 2).
    """
    reach = size // 2
    index, mask = np.zeros((size + 1, 2), "int64"), np.zeros((size + 1, 2), "float32")
    for tap in range(size + 1):
        for phase in (0, 1):
            offset = tap - reach - phase
            if -reach <= offset <= reach:
                index[tap, phase], mask[tap, phase] = offset + reach, 1.0
    return index, mask


@keras.saving.register_keras_serializable(package="pianola")
class PhasedConv2D(layers.Conv2D):
    """A 'same' convolution with an odd square kernel to one output channel (Conv2D(1, size)).

    Computed as a stride-2 convolution to the four pixel phases of each 2x2 block (four output
    channels of a (size+1)-tap kernel built from this one), then laid out again: a one-channel
    output is the case oneDNN's kernels handle worst, and this form takes half the time. Inputs
    need an even height and width. XLA runs the phases slower, so JAX and torch convolve as the stock layer does.
    """

    def __init__(self, kernel_size: int | tuple[int, int], **kwargs):
        sizes = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if sizes[0] != sizes[1] or sizes[0] % 2 == 0:
            raise ValueError(f"PhasedConv2D needs an odd square kernel, not {kernel_size}")
        kwargs.update(filters=1, padding="same")
        super().__init__(kernel_size=kernel_size, **kwargs)

    def convolution_op(self, inputs, kernel):
        if keras.backend.backend() != "tensorflow":
            return super().convolution_op(inputs, kernel)
        size = self.kernel_size[0]
        index, mask = _phase_taps(size)
        rows = ops.take(kernel[..., 0], ops.convert_to_tensor(index.reshape(-1)), axis=0)  # (size+1, 2, size, in)
        rows = ops.reshape(rows, (size + 1, 2, size, -1)) * ops.convert_to_tensor(mask[:, :, None, None], kernel.dtype)
        both = ops.take(rows, ops.convert_to_tensor(index.reshape(-1)), axis=2)  # (size+1, 2, size+1, 2, in)
        both = ops.reshape(both, (size + 1, 2, size + 1, 2, -1)) * ops.convert_to_tensor(
            mask[None, None, :, :, None], kernel.dtype)
        phased = ops.reshape(ops.transpose(both, (0, 2, 4, 1, 3)), (size + 1, size + 1, -1, 4))
        phases = ops.conv(inputs, phased, strides=2, padding="same")  # (batch, h/2, w/2, 4): phases (a, b)
        half_height, half_width = phases.shape[1], phases.shape[2]
        phases = ops.reshape(phases, (-1, half_height, half_width, 2, 2))
        return ops.reshape(ops.transpose(phases, (0, 1, 3, 2, 4)), (-1, 2 * half_height, 2 * half_width, 1))

    def get_config(self):
        config = super().get_config()
        for fixed in ("filters", "padding"):
            config.pop(fixed)
        return config


@keras.saving.register_keras_serializable(package="pianola")
class BatchNormalization(layers.BatchNormalization):
    """Keras's batch normalization over the last axis; while training on TensorFlow, in TensorFlow's fused kernel.

    Keras 3 computes it in float32 in a dozen separate operations (casts, moments, their
    gradients); the fused kernel reads the bfloat16 map once each way, at a third of the time.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable and mask is None and keras.backend.backend() == "tensorflow"
                and self.axis in (-1, len(inputs.shape) - 1) and not self.renorm):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        gamma = tf.cast(self.gamma, "float32") if self.scale else tf.ones(inputs.shape[-1])
        beta = tf.cast(self.beta, "float32") if self.center else tf.zeros(inputs.shape[-1])
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(inputs, gamma, beta, epsilon=self.epsilon,
                                                                   is_training=True)
        count = tf.cast(tf.size(inputs) // tf.shape(inputs)[-1], "float32")
        variance = variance * ((count - 1.0) / count)  # the kernel returns it unbiased; Keras keeps it biased
        self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
        self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        return ops.cast(outputs, self.compute_dtype)
