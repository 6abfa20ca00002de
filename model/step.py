"""One GAN training step, the whole algorithm in one function, compiled once for any Keras backend.

    G draws a batch and learns through D; D learns from a real batch, then from G's batch; the
    averaged generator follows G.

One generator pass serves both updates (the generator is three quarters of a step's arithmetic).

It is written with Keras's stateless API (`stateless_call`, `stateless_apply`), so one compiled
function (`jax.jit`, `tf.function`; torch runs it eagerly) holds the whole step and no Python
runs between its parts. Only `value_and_gradients` knows the backend: Keras 3 has no
backend-neutral gradient. The weights live in a `State` between steps and go back into the
Keras variables (`GanStep.write_back`) only when a checkpoint or a preview needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from model.config import TrainConfig
from model.dcgan import (
    Models,
    distribution_matching_loss,
    harmony_matching_loss,
    key_matching_loss,
    marginal_matching_loss,
    mode_seeking_loss,
    rhythm_matching_loss,
    roll_profile,
)
from model.texture import class_coordinates


class State(NamedTuple):
    """Every value a step reads and writes, as backend tensors."""

    g_trainable: list
    g_fixed: list  # batch-norm statistics
    d_trainable: list
    d_fixed: list  # spectral-norm vectors, random-number seeds
    d_optimizer: list
    g_optimizer: list
    average: list  # the averaged generator (trainable, then non-trainable variables); empty without one


class StepOutput(NamedTuple):
    d_loss_real: object
    d_loss_fake: object
    g_loss: object
    d_real: object  # mean D output on the real batch
    d_fake: object  # ...and on the generated one


def value_and_gradients(loss: Callable) -> Callable:
    """loss(trainable, *rest) -> (value, aux)  becomes  f(trainable, *rest) -> (value, aux, gradients)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        grad = jax.value_and_grad(loss, has_aux=True)

        def jax_version(trainable, *rest):
            (value, aux), gradients = grad(trainable, *rest)
            return value, aux, gradients

        return jax_version
    if backend == "tensorflow":
        import tensorflow as tf

        def tensorflow_version(trainable, *rest):
            with tf.GradientTape() as tape:
                tape.watch(trainable)
                value, aux = loss(trainable, *rest)
            return value, aux, tape.gradient(value, trainable)

        return tensorflow_version
    if backend == "torch":
        import torch

        def torch_version(trainable, *rest):
            trainable = [t.detach().requires_grad_(True) for t in trainable]
            value, aux = loss(trainable, *rest)
            gradients = torch.autograd.grad(value, trainable)
            return value.detach(), aux, list(gradients)

        return torch_version
    raise SystemExit(f"train: backend {backend!r} is not supported; use tensorflow, jax or torch")


def input_gradients(function: Callable, x) -> tuple:
    """function(x) -> (value, aux)  gives  (d value / dx, aux), the gradient itself differentiable (for penalties)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.grad(function, has_aux=True)(x)
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            tape.watch(x)
            value, aux = function(x)
        return tape.gradient(value, x), aux
    import torch

    x = x.detach().requires_grad_(True)
    value, aux = function(x)
    return torch.autograd.grad(value, x, create_graph=True)[0], aux


def apply_gradients(optimizer: keras.optimizers.Optimizer, optimizer_values: list, gradients: list, values: list,
                    variables: list) -> tuple[list, list]:
    """One optimizer update: (new values, new optimizer values).

    TensorFlow's optimizers refuse `stateless_apply` and update variables in place; there `values`
    are the variables' own current values, so updating the variables and reading them back is the same step.
    """
    if keras.backend.backend() == "tensorflow":
        optimizer.apply(gradients, variables)
        return [v.value for v in variables], [v.value for v in optimizer.variables]
    return optimizer.stateless_apply(optimizer_values, gradients, values)


def compile_step(step: Callable) -> Callable:
    """The backend's compiler around a pure step function (torch: as it is)."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.jit(step)
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(step, reduce_retracing=True)
    return step


def binary_crossentropy(labels, probabilities):
    """Mean binary cross-entropy of a batch, in float32 whatever the compute precision."""
    return ops.mean(keras.losses.binary_crossentropy(labels, ops.cast(probabilities, "float32")))


class GanStep:
    """The compiled step of one run's models; `step(state, batch...) -> (state, StepOutput)`."""

    def __init__(self, models: Models, config: TrainConfig):
        self.models, self.config = models, config
        # Each style's coordinates, for the profile term class by class (distribution_matching_loss).
        self.class_coordinates = (ops.convert_to_tensor(class_coordinates(config.styles))
                                  if config.matching_by_class else None)
        self.d_gradients = value_and_gradients(self._d_loss)
        self.g_gradients = value_and_gradients(self._g_loss)
        self._compiled = compile_step(lambda *args: self._step(*args, penalize=False))
        self._penalized = compile_step(lambda *args: self._step(*args, penalize=True))

    def step(self, state: State, real, latent, real_labels, fake_labels, decay: float,
             step: int, styles=None) -> tuple[State, StepOutput]:
        """Step `step` from numpy inputs (tensors first, so that a compiled step is traced once).

        `styles` (batch, classes): the real batch's style weights, which G's batch is asked for too;
        a model without styles takes none. Under a `keras.distribution` (data parallelism on JAX),
        each batch is split across the devices.
        """
        styles = np.zeros((len(real), 0), np.float32) if styles is None else styles
        inputs = [ops.convert_to_tensor(x, "float32") for x in (real, latent, real_labels, fake_labels, styles)]
        distribution = keras.distribution.distribution()
        if distribution is not None:
            inputs = [keras.distribution.distribute_tensor(x, distribution.get_data_layout(x.shape)) for x in inputs]
        inputs.append(ops.convert_to_tensor(decay, "float32"))
        penalize = bool(self.config.r1_gamma) and step % self.config.r1_every == 0
        return (self._penalized if penalize else self._compiled)(state, *inputs)

    def _average_variables(self) -> list:
        average = self.models.average
        if average is self.models.generator:
            return []
        return average.trainable_variables + average.non_trainable_variables

    def state(self) -> State:
        """The models' current values (at the start, and after a restore)."""
        g, d = self.models.generator, self.models.discriminator

        distribution = keras.distribution.distribution()

        def values(variables):
            copies = [ops.convert_to_tensor(keras.ops.convert_to_numpy(v)) for v in variables]
            if distribution is None:
                return copies
            return [keras.distribution.distribute_tensor(c, distribution.get_variable_layout(v))
                    for c, v in zip(copies, variables, strict=True)]

        return State(values(g.trainable_variables), values(g.non_trainable_variables),
                     values(d.trainable_variables), values(d.non_trainable_variables),
                     values(self.models.d_optimizer.variables), values(self.models.g_optimizer.variables),
                     values(self._average_variables()))

    def write_back(self, state: State) -> None:
        """Copy a state into the Keras variables, for checkpoints, previews and scoring."""
        g, d = self.models.generator, self.models.discriminator
        pairs = ((g.trainable_variables, state.g_trainable), (g.non_trainable_variables, state.g_fixed),
                 (d.trainable_variables, state.d_trainable), (d.non_trainable_variables, state.d_fixed),
                 (self.models.d_optimizer.variables, state.d_optimizer),
                 (self.models.g_optimizer.variables, state.g_optimizer),
                 (self._average_variables(), state.average))
        for variables, values in pairs:
            for variable, value in zip(variables, values, strict=True):
                variable.assign(keras.ops.convert_to_numpy(value))  # a copy: the step may reuse its buffers

    def _with_styles(self, x, styles):
        """A network's input: `x` alone, or with the styles where the models are style-conditioned."""
        return [x, styles] if self.config.styles else x

    def _judge(self, d_trainable, d_fixed, rolls, styles):
        """(D's probabilities, its patch probabilities (None without a patch critic), its weighted style
        cross-entropy against `styles` (0 without a classifier), fixed)."""
        out, d_fixed = self.models.discriminator.stateless_call(d_trainable, d_fixed, self._with_styles(rolls, styles),
                                                                training=True)
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        probabilities, style_loss, patches = out[0], 0.0, None
        if self.config.patch_critic:
            patches = out.pop()
        if self.config.styles and self.config.style_classifier:
            crossentropy = keras.losses.categorical_crossentropy(styles, ops.cast(out[1], "float32"), from_logits=True)
            style_loss = self.config.style_classifier * ops.mean(crossentropy)
        return probabilities, patches, style_loss, d_fixed

    def _verdict_loss(self, labels, probabilities, patches):
        """Cross-entropy of D's verdict on the whole roll against `labels`, plus each patch verdict's, weighted."""
        loss = binary_crossentropy(labels, probabilities)
        if patches is None:
            return loss
        return loss + self.config.patch_critic * binary_crossentropy(labels * ops.ones_like(patches), patches)

    def _d_loss(self, d_trainable, d_fixed, rolls, labels, styles, penalize=False, name_styles=True):
        """D's loss on one batch (plus naming its styles, where D has a style classifier and `name_styles`, as in
        AC-GAN); with `penalize`, plus the lazy R1 penalty on its input gradients."""
        if not penalize:
            probabilities, patches, style_loss, d_fixed = self._judge(d_trainable, d_fixed, rolls, styles)
            style_loss = style_loss if name_styles else 0.0
            loss = self._verdict_loss(labels, probabilities, patches) + style_loss
            return loss, (d_fixed, ops.mean(probabilities))

        def log_odds(probabilities):
            probabilities = ops.clip(ops.cast(probabilities, "float32"), 1e-6, 1 - 1e-6)
            return ops.sum(ops.log(probabilities) - ops.log(1.0 - probabilities))

        def summed_logits(x):
            probabilities, patches, style_loss, fixed = self._judge(d_trainable, d_fixed, x, styles)
            value = log_odds(probabilities)
            if patches is not None:
                value = value + self.config.patch_critic * log_odds(patches)
            return value, (probabilities, patches, style_loss, fixed)

        slopes, (probabilities, patches, style_loss, d_fixed) = input_gradients(summed_logits, rolls)
        # R1 (Mescheder et al. 2018): D's slope on real rolls, every r1_every steps at r1_every times the weight.
        penalty = 0.5 * self.config.r1_gamma * self.config.r1_every * ops.mean(ops.sum(slopes**2, axis=(1, 2, 3)))
        loss = self._verdict_loss(labels, probabilities, patches) + style_loss + penalty
        return loss, (d_fixed, ops.mean(probabilities))

    def _g_loss(self, g_trainable, g_fixed, d_trainable, d_fixed, latent, styles, real):
        rolls, g_fixed = self.models.generator.stateless_call(g_trainable, g_fixed, self._with_styles(latent, styles),
                                                              training=True)
        probabilities, patches, style_loss, d_fixed = self._judge(d_trainable, d_fixed, rolls, styles)
        # AC-GAN (Odena et al. 2017), where D has a style classifier: G also wants its rolls named as asked.
        loss = self._verdict_loss(ops.ones_like(probabilities, dtype="float32"), probabilities, patches) + style_loss
        if self.config.mode_seeking:
            loss = loss + mode_seeking_loss(latent, ops.cast(rolls, "float32"), self.config.mode_seeking)
        if self.config.key_matching:
            loss = loss + key_matching_loss(real, rolls, self.config.key_matching)
        if self.config.harmony_matching:
            loss = loss + harmony_matching_loss(real, rolls, self.config.harmony_matching)
        if self.config.rhythm_matching:
            loss = loss + rhythm_matching_loss(real, rolls, self.config.rhythm_matching)
        if self.config.distribution_matching or self.config.marginal_matching:
            real_profile, profile = ops.stop_gradient(roll_profile(real)), roll_profile(rolls)  # once for both terms
        if self.config.distribution_matching:
            classes = None if self.class_coordinates is None else ops.matmul(styles, self.class_coordinates)
            loss = loss + distribution_matching_loss(real_profile, profile, self.config.distribution_matching, classes)
        if self.config.marginal_matching:
            loss = loss + marginal_matching_loss(real_profile, profile, self.config.marginal_matching)
        return loss, (g_fixed, d_fixed, rolls)

    def _step(self, state: State, real, latent, real_labels, fake_labels, styles, decay, penalize: bool):
        """G through D, D on a real batch, D on G's batch, then the average: the GAN algorithm."""
        d_optimizer, g_optimizer = self.models.d_optimizer, self.models.g_optimizer
        d_variables = self.models.discriminator.trainable_variables
        g_variables = self.models.generator.trainable_variables
        g_trainable, g_fixed, d_trainable, d_fixed, d_state, g_state, average = state
        # Training mode throughout: batch-normalized layers see batch statistics.
        g_loss, (g_fixed, d_fixed, fake), gradients = self.g_gradients(g_trainable, g_fixed, d_trainable, d_fixed,
                                                                       latent, styles, real)
        g_trainable, g_state = apply_gradients(g_optimizer, g_state, gradients, g_trainable, g_variables)
        fake = ops.stop_gradient(fake)

        d_loss_real, (d_fixed, d_real), gradients = self.d_gradients(d_trainable, d_fixed, real, real_labels, styles,
                                                                     penalize)
        d_trainable, d_state = apply_gradients(d_optimizer, d_state, gradients, d_trainable, d_variables)
        # Unpenalized; naming G's rolls' styles only where the classifier learns from them (style_classifier_fakes).
        d_loss_fake, (d_fixed, d_fake), gradients = self.d_gradients(d_trainable, d_fixed, fake, fake_labels, styles,
                                                                     False, self.config.style_classifier_fakes)
        d_trainable, d_state = apply_gradients(d_optimizer, d_state, gradients, d_trainable, d_variables)

        average = [decay * a + (1.0 - decay) * ops.cast(w, a.dtype) if keras.backend.is_float_dtype(a.dtype) else w
                   for a, w in zip(average, [*g_trainable, *g_fixed], strict=True)]  # random seeds follow as they are
        state = State(list(g_trainable), list(g_fixed), list(d_trainable), list(d_fixed), list(d_state),
                      list(g_state), average)
        return state, StepOutput(d_loss_real, d_loss_fake, g_loss, d_real, d_fake)
