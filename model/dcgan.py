"""The DCGAN: generator, discriminator and the combined model that trains the generator.

Plain Keras 3 layers, so the same code runs on the TensorFlow, JAX and PyTorch
backends; `model/step.py` trains them. The architecture "resize" is ours, the default;
"seed2023" (`model/seed2023.py`) is the original repository's model, the baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import keras
import numpy as np
from keras import layers, ops

from img2midi.core import DEFAULT_THRESHOLD, ONSET_THRESHOLD
from midi2img.spec import (
    DEFAULT_VELOCITY,
    LOWEST_PITCH,
    MODEL_SHAPE,
    N_PITCHES,
    PIANO_HIGHEST,
    STEPS_PER_BEAT,
    SUSTAIN_LEVEL,
    WINDOW_STEPS,
    pitch_to_row,
    row_to_pitch,
    velocity_to_level,
)
from model import seed2023
from model.config import TrainConfig
from model.data import pixels_to_tanh
from model.fast_layers import BatchNormalization, DoubledConv2D, PhasedConv2D
from model.metrics import PITCH_BAND, SCALES

ROWS_ABOVE_PIANO = int(pitch_to_row(PIANO_HIGHEST))  # 18: pitches 109..126
# (rows, 12): 1 where an image row's pitch has that pitch class.
ROW_PITCH_CLASSES = (row_to_pitch(np.arange(N_PITCHES))[:, None] % 12 == np.arange(12)).astype("float32")


class Models(NamedTuple):
    """What a training run builds. `average` is the moving-average generator that is saved and
    sampled (the trained generator itself when `config.ema` is 0)."""

    generator: keras.Model
    discriminator: keras.Model
    average: keras.Model
    d_optimizer: keras.optimizers.Optimizer
    g_optimizer: keras.optimizers.Optimizer


class MusicAugment(layers.Layer):
    """DiffAugment for piano rolls: one random circular time shift and transposition per batch, training only.

    Differentiable (a gather), so it sits inside D and also transforms the generator's
    rolls on the way to D's verdict when the generator trains. The transposition wraps round
    within the rows below `rows_above` (the piano's keys): wrapped round all 106 rows, the lowest
    keys landed above C8, where D does not look, and D missed them in 3 of 7 batches.
    """

    def __init__(self, max_shift: int, max_transpose: int, seed: int | None = None, rows_above: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.max_shift, self.max_transpose, self.rows_above = max_shift, max_transpose, rows_above
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, rolls, training=False):
        if not training:
            return rolls
        height, width = rolls.shape[1], rolls.shape[2]
        shift = keras.random.randint((), -self.max_shift, self.max_shift + 1, seed=self.seed_generator)
        transpose = keras.random.randint((), -self.max_transpose, self.max_transpose + 1, seed=self.seed_generator)
        rolls = ops.take(rolls, ops.mod(ops.arange(width) + shift, width), axis=2)
        keys = height - self.rows_above
        rows = ops.concatenate([ops.arange(self.rows_above),
                                self.rows_above + ops.mod(ops.arange(keys) + transpose, keys)])
        return ops.take(rolls, rows, axis=1)

    def get_config(self):
        return {**super().get_config(), "max_shift": self.max_shift, "max_transpose": self.max_transpose,
                "rows_above": self.rows_above}


@keras.saving.register_keras_serializable(package="pianola")
class SnapToLevels(layers.Layer):
    """Rounds the generator's output to what a real roll holds: silence, sustain, or an onset.

    A soft output flickers around the decoder's thresholds, and every dip below "sounding" splits
    a note in two. Snapped, D sees exactly what `sample` will play and punishes broken notes. The
    gradient passes straight through the rounding, as in the binary neurons of BinaryMuseGAN
    (Dong and Yang, 2018). With `velocity`, an onset keeps its own level in the onset band (the
    note's velocity, see midi2img.spec); without, every onset is the loudest.

    With `strike_heads`, a sounding pixel after silence is drawn as an onset (at DEFAULT_VELOCITY's
    level), as every real note begins (column 0 aside: notes held over from before the window).
    The decoder starts a note there either way, so the notes are the same; but unstruck,
    generators drew most notes as bare runs of sustain, which D took for held notes.

    With `restrike_velocity`, an onset right after a sounding pixel of its key (a re-strike) needs at least
    that velocity's level, else it sustains: G cannot hold a note by flickering over the onset threshold.
    """

    SOUNDING = pixels_to_tanh(DEFAULT_THRESHOLD - 0.5)  # tanh_to_pixels rounds to the nearest level
    ONSET = pixels_to_tanh(ONSET_THRESHOLD - 0.5)
    SUSTAIN = pixels_to_tanh(SUSTAIN_LEVEL)
    STRUCK = float(pixels_to_tanh(velocity_to_level(DEFAULT_VELOCITY)))

    def __init__(self, strike_heads: bool = False, velocity: bool = False, restrike_velocity: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.strike_heads, self.velocity, self.restrike_velocity = strike_heads, velocity, restrike_velocity
        self.restrike = float(pixels_to_tanh(velocity_to_level(restrike_velocity) - 0.5)) if restrike_velocity else None

    def call(self, x):
        onset = x if self.velocity else ops.ones_like(x)
        struck = x >= self.ONSET
        if self.restrike is not None:
            sounding_before = ops.concatenate([-ops.ones_like(x[:, :, :1]), x[:, :, :-1]], axis=2) >= self.SOUNDING
            struck = ops.logical_and(struck, ops.logical_or(ops.logical_not(sounding_before), x >= self.restrike))
        levels = ops.where(struck, onset, ops.where(x >= self.SOUNDING, self.SUSTAIN, -1.0))
        if self.strike_heads:
            sounding = levels > -1.0
            before = ops.concatenate([ops.ones_like(sounding[:, :, :1]), sounding[:, :, :-1]], axis=2)
            head = ops.logical_and(sounding, ops.logical_not(before))
            levels = ops.where(ops.logical_and(head, x < self.ONSET), self.STRUCK if self.velocity else 1.0, levels)
        return x + ops.stop_gradient(levels - x)

    def get_config(self):
        return {**super().get_config(), "strike_heads": self.strike_heads, "velocity": self.velocity,
                "restrike_velocity": self.restrike_velocity}


@keras.saving.register_keras_serializable(package="pianola")
class SilenceAbovePiano(layers.Layer):
    """Adds the rows above the piano's top key (C8), silent: the generator draws only the 88 keys."""

    def __init__(self, rows: int, **kwargs):
        super().__init__(**kwargs)
        self.rows = rows

    def call(self, x):
        silence = -ops.ones_like(x[:, :1])
        return ops.concatenate([silence] * self.rows + [x], axis=1)

    def get_config(self):
        return {**super().get_config(), "rows": self.rows}


@keras.saving.register_keras_serializable(package="pianola")
class GateRoll(layers.Layer):
    """Silences a (batch, keys, steps, 1) roll in [-1, 1] by a gate per beat and a gate per key, each in [0, 1].

    A real window is often sparse: rests between phrases, a melody alone in one register. Drawn
    pixel by pixel, silence is a level every pixel must reach; a gate makes it one choice per beat
    or per key, taken from the latent (see `global_gates`).
    """

    def call(self, inputs):
        roll, beats, keys = inputs
        steps = ops.repeat(beats, roll.shape[2] // beats.shape[1], axis=1)
        gate = ops.cast(keys[:, :, None, None] * steps[:, None, :, None], roll.dtype)
        return gate * (roll + 1.0) - 1.0


@keras.saving.register_keras_serializable(package="pianola")
class ChordGate(layers.Layer):
    """Silences a (batch, keys, steps, 1) roll in [-1, 1] by a gate per beat and pitch class, each in [0, 1].

    Harmony is a set of pitch classes in every octave at once: a convolution sees a few neighbouring
    keys and cannot tell C from C#, and generators sounded semitones together (across octaves) at
    0.14 of their pairs where a pianist's do at 0.09. One gate per pitch class and beat, laid over
    every octave, makes a chord one choice. `first_row` is the image row of the roll's first key.

    It takes its head's raw outputs x (zero at first): gate = sigmoid(OPEN + GAIN x). OPEN starts
    the gates at 0.998, so that a warm start draws as before (at 0.95, on top of the beat and key
    gates, onsets fell to sustain); GAIN lets Adam's steps of about the learning rate move them
    within a run (as a plain sigmoid head they stayed above 0.98 for 2,000 steps).
    """

    OPEN, GAIN = 6.0, 20.0

    def __init__(self, first_row: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.first_row = first_row

    def call(self, inputs):
        roll, logits = inputs  # (batch, beats, 12)
        chords = ops.sigmoid(self.OPEN + self.GAIN * logits)
        fold = ops.convert_to_tensor(ROW_PITCH_CLASSES[self.first_row:self.first_row + roll.shape[1]])
        steps = ops.repeat(chords, roll.shape[2] // chords.shape[1], axis=1)  # (batch, steps, 12)
        gate = ops.cast(ops.einsum("bsc,kc->bks", steps, fold)[..., None], roll.dtype)
        return gate * (roll + 1.0) - 1.0

    def get_config(self):
        return {**super().get_config(), "first_row": self.first_row}


def bar_sequence(latent, height: int, width: int, channels: int):
    """A (height, width, channels) map whose columns follow one another: a GRU run over the first map's columns.

    Each column of the generator's first map becomes 16 steps, four beats: a bar. The dense layer
    from the latent draws every bar at once and independently; a recurrent network over the bars
    (as MuseGAN's temporal generator and C-RNN-GAN) makes each bar follow from the one before, so
    that harmony and register can move through the window as phrases do. Its input per bar is
    drawn from the latent alone (the latent keeps its dimensions). The last projection starts at
    zero, so a generator warm-started from one without it draws what it drew before.
    """
    per_bar = layers.Dense(width * 32, name="time_inputs")(latent)
    per_bar = layers.Reshape((width, 32), name="time_bars")(per_bar)
    states = layers.GRU(128, return_sequences=True, name="time_gru")(per_bar)
    columns = layers.Dense(channels, kernel_initializer="zeros", name="time_project")(states)  # (batch, width, ch)
    columns = layers.Reshape((1, width, channels), name="time_columns")(columns)
    return layers.UpSampling2D((height, 1), name="time_rows")(columns)


OCTAVE_REACH = 2  # octaves each side that dcgan.octave_view reads


def octave_view(x, policy: str):
    """`x`, a map with one row per pitch, plus a convolution over the same step's pitches 12, 24, ... rows away.

    Held chords came out as bands of neighbouring rows: a semitone above a sounding key sounded 0.159 of the
    time against 0.100 in real rolls, the octave 0.229 against 0.302 (bench/quality/README.md). Stacked
    3x3 convolutions reach an octave only through several layers; this one reaches it in one. It starts at
    zero, so a generator warm-started from one without it draws what it drew before.
    """
    octaves = layers.Conv2D(x.shape[-1], (2 * OCTAVE_REACH + 1, 1), dilation_rate=(12, 1), padding="same",
                            kernel_initializer="zeros", dtype=policy, name="pitch_octaves")(x)
    return layers.Add(dtype=policy, name="pitch_octaves_add")([x, octaves])


TIME_WARP_RATES = (0.80, 0.95)  # feature columns a roll step reads: at 0.95 the grid drifts by nearly a 16-step period


@keras.saving.register_keras_serializable(package="pianola")
class TimeWarp(layers.Layer):
    """G's last map read along time at a steady rate below one column a step, from a start, both set by the latent.

    Four nearest-neighbour doublings give every 16th column the same place in the upsampling, and G's
    onsets kept to that grid: the onsets' mean phase at 16 steps told the shipped generator from real
    rolls at AUC 0.97 (bench/quality/README.md). Read at a rate of 0.80-0.95, the grid drifts by about
    one to four periods across the window, as a tempo that is not a power of two of the columns. The
    rate and the start come from the latent through the normal CDF (uniform for a normal latent),
    so a latent still draws one roll. Linear interpolation between the two nearest columns; the
    output convolution after it draws the sharp edges.
    """

    def __init__(self, rates: tuple[float, float] = TIME_WARP_RATES, **kwargs):
        super().__init__(**kwargs)
        self.rates = tuple(rates)

    def call(self, inputs):
        x, latent = inputs
        width = x.shape[2]
        z = ops.cast(latent, "float32")
        half = z.shape[-1] // 2
        draws = [0.5 * (1.0 + ops.erf(ops.sum(part, axis=-1, keepdims=True) / np.sqrt(2.0 * part.shape[-1])))
                 for part in (z[:, :half], z[:, half:])]  # two uniform draws, (batch, 1) each
        low, high = self.rates
        rate = low + (high - low) * draws[0]
        start = draws[1] * (width - 1) * (1.0 - rate)
        positions = start + rate * ops.arange(width, dtype="float32")[None, :]  # (batch, width), within [0, width-1]
        floor = ops.floor(positions)
        right_share = ops.cast(positions - floor, x.dtype)[:, None, :, None]
        left = ops.cast(floor, "int32")
        right = ops.minimum(left + 1, width - 1)
        # Each roll's columns as rows of one table, so that one gather (fast on every backend) reads them all.
        _, height, _, channels = x.shape
        table = ops.reshape(ops.transpose(x, (0, 2, 1, 3)), (-1, height * channels))
        roll_starts = (ops.arange(ops.shape(x)[0], dtype="int32") * width)[:, None]

        def columns(index):
            picked = ops.reshape(ops.take(table, ops.reshape(index, (-1,)), axis=0), (-1, width, height, channels))
            return ops.transpose(picked, (0, 2, 1, 3))

        return columns(roll_starts + left) * (1.0 - right_share) + columns(roll_starts + right) * right_share

    def get_config(self):
        return {**super().get_config(), "rates": self.rates}


def global_gates(latent, roll, keys: int, chords: bool = False, first_row: int = 0):
    """`roll` gated (GateRoll) per beat and per key by small dense heads on the latent; with `chords`,
    also per beat and pitch class (ChordGate).

    The gates start almost open (sigmoid(3) = 0.95; the chord gates 0.998), so a generator warm-started
    from one without them draws nearly what it drew before.
    """
    hidden = layers.Dense(64, name="gate_hidden")(latent)
    hidden = layers.LeakyReLU(0.2, name="gate_hidden_act")(hidden)
    heads = {"kernel_initializer": "zeros", "bias_initializer": keras.initializers.Constant(3.0),
             "activation": "sigmoid"}
    beats = layers.Dense(WINDOW_STEPS // STEPS_PER_BEAT, name="gate_beats", **heads)(hidden)
    per_key = layers.Dense(keys, name="gate_keys", **heads)(hidden)
    roll = GateRoll(name="gate_roll", dtype="float32")([roll, beats, per_key])
    if not chords:
        return roll
    per_chord = layers.Dense(WINDOW_STEPS // STEPS_PER_BEAT * 12, kernel_initializer="zeros",
                             name="gate_chords")(hidden)
    per_chord = layers.Reshape((WINDOW_STEPS // STEPS_PER_BEAT, 12), name="gate_chords_by_beat")(per_chord)
    return ChordGate(first_row, name="gate_chord_roll", dtype="float32")([roll, per_chord])


@keras.saving.register_keras_serializable(package="pianola")
class StyleWeights(layers.Layer):
    """A style-conditioned generator's style input, passed on as it is: per roll, a weight per style class.

    It carries the class names and their shares of the training rolls in the saved model, so
    that `sample --style` can name them and draw them in the training set's proportions; and for
    texture classes the cuts between their thirds (model/texture.py), so that `continue` can name a
    primer's class as training would have, and each era's mix of the classes, so that an era can be asked for.
    """

    def __init__(self, names: tuple[str, ...] = (), shares: tuple[float, ...] = (), cuts: tuple[float, ...] = (),
                 era_mixes: tuple[float, ...] = (), **kwargs):
        super().__init__(**kwargs)
        self.names, self.shares = tuple(names), tuple(float(share) for share in shares)
        self.cuts = tuple(float(cut) for cut in cuts)
        self.era_mixes = tuple(float(share) for share in era_mixes)

    def call(self, weights):
        return weights

    def get_config(self):
        return {**super().get_config(), "names": list(self.names), "shares": list(self.shares),
                "cuts": list(self.cuts), "era_mixes": list(self.era_mixes)}


STYLE_INPUT = "style_weights"  # the StyleWeights layer's name in a style-conditioned generator


# Mean |pixel difference| in [-1, 1] units of two random MAESTRO train rolls (512 pairs).
REAL_ROLL_GAP = 0.107
LATENT_GAP = 1.128  # mean |difference| of two standard normals: 2 / sqrt(pi)


def mode_seeking_loss(latent, rolls, weight: float):
    """Charges G for rolls from different latents that differ less than real rolls do.

    Mode seeking (MSGAN, Mao et al. 2019) in the bounded form of DSGAN (Yang et al. 2019), so
    that the gradient stays finite even when two snapped rolls are identical: the loss is
    weight * max(0, 1 - gap / (REAL_ROLL_GAP * latent gap / LATENT_GAP)), each roll paired with its
    batch neighbour. At the real gap the term vanishes: G is asked for real music's variety, no more.
    """
    image_gap = ops.mean(ops.abs(rolls - ops.roll(rolls, 1, axis=0)))
    latent_gap = ops.mean(ops.abs(latent - ops.roll(latent, 1, axis=0)))
    wanted = REAL_ROLL_GAP * latent_gap / LATENT_GAP
    return weight * ops.relu(1.0 - image_gap / wanted)


def in_key_share(rolls):
    """Per roll, the largest share of its sounding pitch classes inside one of the 24 major and minor scales.

    A twin of the statistic `scale_consistency` (model/metrics.py) that is differentiable through the
    snapped levels (the max passes its gradient to the best-fitting scale). Each step counts the pitch
    classes sounding in it, each once however many octaves sound it: weighted by pixels, the share
    rewarded walls of held notes on a scale's keys (`texture-key`, bench/quality/README.md).
    """
    shares = pitch_class_shares(sounding_pitch_classes(sounding_and_onsets(ops.cast(rolls, "float32"))[0]))
    return ops.max(ops.matmul(shares, ops.convert_to_tensor(SCALES.T.astype("float32"))), axis=1)


def pitch_class_shares(chroma):
    """(batch, 12, steps) pitch classes sounding (sounding_pitch_classes) -> (batch, 12): each pitch class's
    share of the (step, pitch class) pairs that sound."""
    classes = ops.sum(chroma, axis=2)
    return classes / ops.maximum(ops.sum(classes, axis=1, keepdims=True), 1.0)


def matching_loss(real_statistics, statistics, weight: float):
    """Feature matching (Salimans et al. 2016) on statistics a listener hears: weight * the summed
    |batch mean of G's rolls' statistics - the real batch's|, (batch,) or (batch, k) each."""
    gaps = ops.mean(statistics, axis=0) - ops.stop_gradient(ops.mean(real_statistics, axis=0))
    return weight * ops.sum(ops.abs(gaps))


def key_matching_loss(real, rolls, weight: float):
    """Charges G for a batch less (or more) in key than the real batch.

    The summary view shows D each roll's pitch classes, yet in runs past an hour the generators drifted
    out of key (scale consistency 0.71-0.74 against a pianist's 0.84 +- 0.09) while D's verdict moved
    elsewhere; this term holds the batch's mean in-key share at the real batch's.
    """
    return matching_loss(in_key_share(real), in_key_share(rolls), weight)


def harmony_matching_loss(real, rolls, weight: float):
    """Charges G for a batch whose harmony differs from the real batch's: the intervals sounding together and
    the pitch classes that sound.

    These were what told `texture-key` from a pianist best: the interval classes (AUC 0.85-0.88 each;
    seconds made 0.34 of its pairs against 0.25, thirds 0.36 against 0.45), though D read them in its
    harmony view in earlier runs (`harmony_view`), and then the pitch classes (B 0.03 against 0.07).
    """
    return matching_loss(harmony_profile(real), harmony_profile(rolls), weight)


def harmony_profile(rolls):
    """(batch, rows, steps, 1) rolls -> (batch, 18): the interval classes sounding together and the pitch-class
    shares, from one reading of the pitch classes at each step."""
    chroma = sounding_pitch_classes(sounding_and_onsets(ops.cast(rolls, "float32"))[0])
    return ops.concatenate([interval_shares(chroma), pitch_class_shares(chroma)], axis=1)


def _shifted(x, steps: int):
    """x[..., t + steps] at t, 0 past the end."""
    return ops.concatenate([x[:, :, steps:], ops.zeros_like(x[:, :, :steps])], axis=2)


def rhythm_statistics(rolls):
    """(batch, rows, steps, 1) rolls -> (batch, 5), each about 0.25-0.5 for a real roll: the onsets' share of
    the sounding pixels (about 1 / the mean note length), the share of steps where a note starts, onsets per
    step / 4, the sd of the onsets in 1-s blocks / 10 (the two-sample test's `block_onsets_sd`), and the
    share of notes one step long (matched on its mean, 1 / length let G pair one-step notes with long ones).

    Onsets are counted exactly (pixels in the onset band), with the gradient passed straight through to the
    onset pixels alone, as in SnapToLevels: the lever is an onset falling to sustain, which joins two notes.
    Passed to every pixel, it lowered the whole roll at once and D won outright within 200 steps (D(real)
    0.96, D(G) 0.06).
    """
    x = ops.cast(rolls, "float32")[..., 0]
    through = x - ops.stop_gradient(x)  # 0, with a slope of 1
    struck = struck_onsets(x)
    onset_band = ops.stop_gradient(struck)
    # After an onset, a held pixel (sustain) lengthens the note; the slope reaches only the pixels after onsets,
    # silence rising and a new onset falling towards sustain.
    after = ops.concatenate([x[:, :, 1:], -ops.ones_like(x[:, :, :1])], axis=2)
    after_onset = _shifted(through, 1)
    rising = ops.where(after >= SnapToLevels.ONSET, -1.0, 1.0) * onset_band
    sustained = ops.logical_and(after >= SnapToLevels.SOUNDING, after < SnapToLevels.ONSET)
    held = ops.cast(sustained, "float32") + rising * after_onset
    # The sounding pixels as a constant: through them, every silent pixel would move at once.
    sounding = ops.stop_gradient(ops.sum(sounding_and_onsets(rolls)[0], axis=(1, 2)))
    per_step = ops.sum(struck, axis=1)  # (batch, steps)
    block = 2 * STEPS_PER_BEAT
    whole_blocks = ops.reshape(per_step[:, :WINDOW_STEPS - WINDOW_STEPS % block], (-1, WINDOW_STEPS // block, block))
    blocks = ops.sum(whole_blocks, axis=2)
    onsets = ops.sum(struck, axis=(1, 2))
    return ops.stack([onsets / ops.maximum(sounding, 1.0),
                      ops.mean(ops.max(struck, axis=1), axis=1), ops.mean(per_step, axis=1) / 4.0,
                      ops.sqrt(ops.var(blocks, axis=1) + 1e-6) / 10.0,  # + 1e-6: a finite slope at 0
                      ops.sum(struck * (1.0 - held), axis=(1, 2)) / ops.maximum(ops.stop_gradient(onsets), 1.0)],
                     axis=1)


def struck_onsets(x):
    """(batch, rows, steps) levels in [-1, 1] -> 1 at each onset pixel, 0 elsewhere, with the slope passed straight
    through to the onset pixels alone (as in SnapToLevels)."""
    onset_band = ops.cast(x >= SnapToLevels.ONSET, "float32")
    through = x - ops.stop_gradient(x)  # 0, with a slope of 1
    return onset_band + onset_band * through / (SnapToLevels.ONSET - SnapToLevels.SUSTAIN)


ROW_DISTANCES = np.abs(np.arange(N_PITCHES)[:, None] - np.arange(N_PITCHES)[None, :])  # semitones between rows


def melody_statistics(rolls):
    """(batch, rows, steps, 1) rolls -> (batch, 4): how the top line and the bass line move, each as the share of
    moves by step (0-2 semitones) and by leap (over 7), between the highest (lowest) onsets of consecutive onset
    steps, as the two-sample test's `top_line_step_share` and `bass_line_leap_share` count them.

    With harmony and rhythm matched, the top line was what told the generators from a pianist best: leaps made
    0.52 of its moves against 0.40, steps 0.20 against 0.32. The slope reaches the onset pixels of the lines,
    through struck_onsets; which onset step comes next is taken as it is.
    """
    struck = struck_onsets(ops.cast(rolls, "float32")[..., 0])
    later = ops.convert_to_tensor(np.triu(np.ones((WINDOW_STEPS, WINDOW_STEPS), np.float32), k=1))
    near = ops.convert_to_tensor((ROW_DISTANCES <= 2).astype("float32"))
    far = ops.convert_to_tensor((ROW_DISTANCES > 7).astype("float32"))
    shares = []
    for onsets in (struck, ops.flip(struck, axis=1)):  # rows from the top, then from the bottom
        line = onsets * ops.relu(1.0 - (ops.cumsum(onsets, axis=1) - onsets))  # the first onset of each step
        candidates = ops.stop_gradient(ops.max(line, axis=1))[:, None, :] * later  # (batch, step, later onset step)
        following = candidates * ops.cast(ops.cumsum(candidates, axis=2) == 1.0, "float32")  # the next one
        moves = ops.matmul(line, ops.transpose(ops.matmul(line, ops.transpose(following, (0, 2, 1))), (0, 2, 1)))
        total = ops.maximum(ops.stop_gradient(ops.sum(moves, axis=(1, 2))), 1.0)
        shares += [ops.sum(moves * near, axis=(1, 2)) / total, ops.sum(moves * far, axis=(1, 2)) / total]
    return ops.stack(shares, axis=1)


def rhythm_matching_loss(real, rolls, weight: float):
    """Charges G for a batch whose notes start otherwise than the real batch's: how long notes last, how many
    start and how evenly through the window.

    With the harmony matched, these were what told `texture-key` from a pianist best: notes of one step
    made 0.58 of its notes against 0.29, 12 onsets a second against 9, and its 1-s blocks swung between
    busy and bare (onset sd 6.9 against 4.2).
    """
    return matching_loss(rhythm_statistics(real), rhythm_statistics(rolls), weight)


def register_shares(rolls):
    """(batch, rows, steps, 1) rolls -> (batch, 18): the sounding pixels' shares in the six-semitone bands."""
    sounding, _ = sounding_and_onsets(ops.cast(rolls, "float32"))
    per_row = ops.sum(sounding, axis=2)
    bands = ops.matmul(per_row, ops.convert_to_tensor(BeatView.BANDS))
    return bands / ops.maximum(ops.sum(bands, axis=1, keepdims=True), 1.0)


VOICING_SPANS = (1, 2, 12)  # semitones: the neighbours G sounds too often and the octave too rarely


def voicing_statistics(rolls):
    """(batch, 3): per roll, how often the key 1, 2 and 12 semitones above a sounding key also sounds, times 2
    (real rolls 0.100, 0.142, 0.302; the generator's held chords were bands of neighbours: 0.159, 0.181, 0.229)."""
    sounding, _ = sounding_and_onsets(ops.cast(rolls, "float32"))
    total = ops.maximum(ops.sum(sounding, axis=(1, 2)), 1.0)
    return ops.stack([2.0 * ops.sum(sounding[:, :-k] * sounding[:, k:], axis=(1, 2)) / total
                      for k in VOICING_SPANS], axis=1)


LENGTH_THRESHOLDS = (2, 3, 5, 9, 17, 33)  # steps: the inner edges of the two-sample test's length bins


def length_statistics(rolls):
    """(batch, 6): per roll, the share of its notes that last at least each of LENGTH_THRESHOLDS steps.

    The spread of note lengths has told every generator from a pianist (log-length sd 1.3 against 1.1: too
    many one-step notes and too many held for bars). A note lasts while the pixels after its onset hold at
    sustain; each such pixel passes its slope straight through, as in SnapToLevels: a silent one rising or
    an onset falling towards sustain lengthens the note.
    """
    x = ops.cast(rolls, "float32")[..., 0]
    through = x - ops.stop_gradient(x)  # 0, with a slope of 1
    sustained = ops.cast(ops.logical_and(x >= SnapToLevels.SOUNDING, x < SnapToLevels.ONSET), "float32")
    towards = ops.where(x >= SnapToLevels.ONSET, -1.0, ops.where(x < SnapToLevels.SOUNDING, 1.0, 0.0))
    # Every pixel, not only those after an onset as in rhythm_statistics: a note lasts through all of them.
    held = sustained + towards * ops.stop_gradient(1.0 - sustained) * through
    struck = struck_onsets(x)
    # A note held into the window starts at its first step, as the decoder reads it.
    struck = ops.concatenate([ops.maximum(struck[:, :, :1], sustained[:, :, :1]), struck[:, :, 1:]], axis=2)
    onsets = ops.maximum(ops.stop_gradient(ops.sum(struck, axis=(1, 2))), 1.0)
    # held_for[t]: the next `span` pixels after t all held. Each threshold is 1 + a power of two, so each span
    # doubles the last: held_for(2n)[t] = held_for(n)[t] * held_for(n)[t + n].
    held_for, span, shares = _shifted(held, 1), 1, []
    for length in LENGTH_THRESHOLDS:
        while span < length - 1:
            held_for, span = held_for * _shifted(held_for, span), 2 * span
        assert span == length - 1, "each of LENGTH_THRESHOLDS must be 1 + a power of two"
        shares.append(ops.sum(struck * held_for, axis=(1, 2)) / onsets)
    return ops.stack(shares, axis=1)


def roll_profile(rolls):
    """(batch, 55): a roll as a listener hears it whole, each part a share or scaled to about 0.3-0.5: the
    intervals sounding together, the pitch classes, how much of it lies in one key (in_key_share), the
    register, how chords are voiced (voicing_statistics), the rhythm (rhythm_statistics), how long notes last
    (length_statistics) and how its top and bass lines move (melody_statistics)."""
    return ops.concatenate([harmony_profile(rolls), in_key_share(rolls)[:, None], register_shares(rolls),
                            voicing_statistics(rolls), rhythm_statistics(rolls), length_statistics(rolls),
                            melody_statistics(rolls)], axis=1)


PROFILE_BANDWIDTHS = (0.2, 0.4, 0.8, 1.6)  # two real rolls' profiles lie about 0.7 apart (median)


def distribution_matching_loss(real, fake, weight: float, classes=None):
    """Charges G for a batch whose roll profiles are distributed otherwise than the real batch's: the maximum
    mean discrepancy (Gretton et al. 2012; as a generator's loss, Li et al. 2015) between the two batches'
    roll_profile (`real`, `fake`: (batch, features), the real one without a slope), with Gaussian kernels at
    PROFILE_BANDWIDTHS.

    Matching means (harmony_matching, rhythm_matching) brought every feature's mean to a pianist's and left
    the two-sample test where it was (bench/quality/README.md): what tells the generator apart is how the
    features go together in each roll, which a kernel on the whole profile sees.

    `classes` (batch, k), the coordinates of the class each roll of both batches was asked for (the same
    rows on both sides): each pair's kernel is then also weighted by exp(-|difference|^2 / 2), so that the
    discrepancy is that of (class, profile) pairs and each class is matched to real rolls of its own class
    and its neighbours. Matched over the whole batch, the terms drew every class toward one mean and the
    classical era came out romantic.
    """
    same_class = 1.0
    if classes is not None:
        classes = ops.cast(classes, "float32")
        same_class = ops.exp(-ops.sum((classes[:, None, :] - classes[None, :, :]) ** 2, axis=2) / 2.0)

    def kernel(a, b):
        distances = ops.sum((a[:, None, :] - b[None, :, :]) ** 2, axis=2)
        return same_class * sum(ops.exp(-distances / (2.0 * width**2)) for width in PROFILE_BANDWIDTHS)

    return weight * (ops.mean(kernel(fake, fake)) + ops.mean(kernel(real, real)) - 2.0 * ops.mean(kernel(fake, real)))


def marginal_matching_loss(real, fake, weight: float):
    """Charges G for each roll_profile feature (`real`, `fake`: (batch, features), as distribution_matching_loss
    takes them) distributed otherwise than in the real batch: the 1-D Wasserstein distance (the sorted batches'
    mean gap) per feature, in units of the two batches' pooled sd, averaged over the features.

    The kernel of distribution_matching_loss works in raw units, so it is blind to gaps in features that vary
    little: G's major thirds stayed at 0.168 of its intervals against 0.198 (sd 0.035) under it. And the
    two-sample test's classifier separates on the features' marginals alone (bench/quality/voicing/tells.py).
    Both batches carry the same classes, so their marginals are comparable whole.
    """
    scale = ops.stop_gradient(ops.maximum(ops.std(ops.concatenate([fake, real], axis=0), axis=0), 0.01))
    return weight * ops.mean(ops.abs(ops.sort(ops.transpose(fake), axis=1) - ops.sort(ops.transpose(real), axis=1))
                             / scale[:, None])


class MinibatchStd(layers.Layer):
    """Appends one channel holding the batch's mean feature sd (ProGAN), so D can see a collapsed batch."""

    def call(self, features):
        spread = ops.mean(ops.sqrt(ops.var(features, axis=0) + 1e-8))
        return ops.concatenate([features, ops.ones_like(features[..., :1]) * spread], axis=-1)


def sounding_and_onsets(rolls):
    """(batch, rows, steps, 1) rolls in [-1, 1] -> (sounding, onsets), each (batch, rows, steps) in [0, 1]:
    sounding 1 for sustain and onsets, 0 for silence; onsets 0 below the onset band, 1 at the loudest."""
    rolls, sustain = rolls[..., 0], SnapToLevels.SUSTAIN
    return ops.clip((rolls + 1.0) / (sustain + 1.0), 0.0, 1.0), ops.clip((rolls - sustain) / (1.0 - sustain), 0.0, 1.0)


def sounding_pitch_classes(sounding):
    """(batch, rows, steps) sounding levels -> (batch, 12, steps): each pitch class sounding at each step,
    counted once however many octaves sound it (capped at 1)."""
    return ops.minimum(ops.einsum("brs,rc->bcs", sounding, ops.convert_to_tensor(ROW_PITCH_CLASSES)), 1.0)


def interval_shares(chroma):
    """(batch, 12, steps) pitch classes sounding (sounding_pitch_classes) -> (batch, 6): the shares of the
    pitch-class pairs sounding together 1..6 semitones apart, summed over steps (twosample._interval_classes,
    differentiable)."""
    pairs = [ops.sum(chroma * ops.roll(chroma, -k, axis=1), axis=(1, 2)) for k in range(1, 7)]
    pairs[5] = pairs[5] / 2.0  # a tritone is its own inversion: each pair was counted from both ends
    pairs = ops.stack(pairs, axis=1)
    return pairs / ops.maximum(ops.sum(pairs, axis=1, keepdims=True), 1.0)


def _fold(groups: np.ndarray) -> np.ndarray:
    """(N_PITCHES, n_groups) 0/1 matrix that sums image rows into groups, scaled so a uniform roll gives 1 each."""
    n_groups = int(groups.max()) + 1
    matrix = np.zeros((N_PITCHES, n_groups), dtype="float32")
    matrix[np.arange(N_PITCHES), groups] = 1.0
    return matrix * n_groups


class RollSummary(layers.Layer):
    """What a musician reads off a whole roll at a glance, as D's second view of it.

    The convolutional trunk sees local patterns; a key (which 7 of the 12 pitch classes are
    used, in every octave and all the way through), the register and how busy the roll is are
    properties of the whole image that it learns slowly. Generators without this view drew
    every roll in no key (pitch-class entropy 3.50 bits against 3.11 for real rolls). Per roll:
    shares of sounding pixels on the 12 pitch classes and in 18 six-semitone bands, the sounding
    share of the image and the onset share of what sounds. (Their sd over the batch as well, as
    in minibatch sd, let D tell real batches from generated ones outright, and G fell silent.)
    """

    PITCH_CLASSES = ROW_PITCH_CLASSES * 12  # an even spread gives 1 each
    BANDS = _fold((row_to_pitch(np.arange(N_PITCHES)) - LOWEST_PITCH) // PITCH_BAND)  # the metrics' pitch bands

    def call(self, rolls):
        sounding, onsets = sounding_and_onsets(rolls)
        per_row = ops.sum(sounding, axis=2)  # (batch, rows)
        sounding_total = ops.sum(per_row, axis=1, keepdims=True)
        total = ops.maximum(sounding_total, 1.0)  # an empty roll: all shares 0
        return ops.concatenate([
            ops.matmul(per_row, ops.convert_to_tensor(self.PITCH_CLASSES)) / total,
            ops.matmul(per_row, ops.convert_to_tensor(self.BANDS)) / total,
            10.0 * sounding_total / (N_PITCHES * WINDOW_STEPS),  # about 0.4 for a real roll
            2.0 * ops.sum(onsets, axis=(1, 2))[:, None] / total,
        ], axis=1)


class HarmonyView(layers.Layer):
    """Which intervals sound together: per roll, the shares of pitch-class pairs 1..6 semitones apart among
    the notes sounding at each step (the two-sample test's interval classes, twosample._interval_classes).

    It was the feature that told the shipped generator from a pianist best (AUC 0.84 alone): semitone
    clashes made 0.14 of its pairs against 0.09, thirds 0.16 against 0.20. The trunk sees only
    neighbouring keys and the summary view only each pitch class on its own. Scaled by 4, to about 1.
    """

    def call(self, rolls):
        return 4.0 * interval_shares(sounding_pitch_classes(sounding_and_onsets(rolls)[0]))


class BeatView(layers.Layer):
    """The roll beat by beat, as a musician follows it: D's third view, a sequence over the 75 beats.

    The trunk's receptive field is about 46 steps and the summary view has no time axis, so neither
    reads how harmony, register and loudness move through the window: generated rolls kept an even
    texture from end to end, leapt where real lines step, clashed in semitones and put no weight on
    the top line. Per beat: the sounding pixels on the 12 pitch classes and in the 18 bands, and the
    onsets' levels (velocities) in the 18 bands, each a mean over the beat's steps.
    """

    BANDS = RollSummary.BANDS / RollSummary.BANDS.shape[1]

    def call(self, rolls):
        sounding, onsets = sounding_and_onsets(rolls)  # onsets grow with the velocity

        def per_beat(pixels, fold):  # (batch, rows, steps) -> (batch, beats, groups)
            grouped = ops.einsum("brs,rg->bsg", pixels, ops.convert_to_tensor(fold))
            beats = WINDOW_STEPS // STEPS_PER_BEAT
            return ops.mean(ops.reshape(grouped, (-1, beats, STEPS_PER_BEAT, fold.shape[1])), axis=2)

        return ops.concatenate([per_beat(sounding, ROW_PITCH_CLASSES), per_beat(sounding, self.BANDS),
                                per_beat(onsets, self.BANDS)], axis=-1)


GRID_PERIODS = (4, 8, 16)  # steps: a beat, two, a bar of four


def grid_and_thickness(rolls):
    """(batch, 5): how strongly a roll's onsets keep to a fixed grid of each of GRID_PERIODS steps (the size
    of their mean phase vector, which a circular shift of the roll leaves alone), and how thick its
    thickest moments are (the most keys sounding at one step / 30, and the mean excess over 12 keys / 4).

    A pianist's tempo owes nothing to the grid; the generator's onsets keep to it (by step mod 16, from 0.5
    to 2.1 times an even share), and in a run with the profile view alone the thickest tenth of its rolls
    stacked 50 keys at a step where a pianist's reach about 20.
    """
    x = ops.cast(rolls, "float32")[..., 0]
    per_step = ops.sum(struck_onsets(x), axis=1)  # (batch, steps)
    total = ops.maximum(ops.stop_gradient(ops.sum(per_step, axis=1)), 1.0)
    angles = 2.0 * np.pi * np.arange(WINDOW_STEPS)[:, None] / np.array(GRID_PERIODS)[None, :]
    cos, sin = (ops.convert_to_tensor(f(angles).astype("float32")) for f in (np.cos, np.sin))
    grid = ops.sqrt((ops.matmul(per_step, cos) / total[:, None]) ** 2
                    + (ops.matmul(per_step, sin) / total[:, None]) ** 2 + 1e-6)  # + 1e-6: a finite slope at 0
    keys = ops.sum(sounding_and_onsets(rolls)[0], axis=1)  # (batch, steps)
    return ops.concatenate([grid, ops.max(keys, axis=1)[:, None] / 30.0,
                            ops.mean(ops.relu(keys - 12.0), axis=1)[:, None] / 4.0], axis=1)


class ProfileView(layers.Layer):
    """The roll as a listener hears it whole, for D's fourth view: roll_profile (harmony, key, register,
    voicing, rhythm, note lengths, the top and bass lines), and with `grid`, grid_and_thickness after it (so
    that a warm start grows the view's first dense by zero rows).

    The matching terms fit roll_profile's batch statistics, yet gradient boosting on it told the shipped
    generator from a pianist at 0.94 and a two-layer perceptron at 0.97 (bench/quality/README.md): what
    separates them is how its features go together, which a critic can learn and teach. R1 charges D's
    slope pixel by pixel, and each of this view's features is a mean over many pixels.
    """

    def __init__(self, grid: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.grid = grid

    def call(self, rolls):
        if not self.grid:
            return roll_profile(rolls)
        return ops.concatenate([roll_profile(rolls), grid_and_thickness(rolls)], axis=1)

    def get_config(self):
        return {**super().get_config(), "grid": self.grid}


PROFILE_UNITS = 128  # the profile view's two hidden layers


def compute_policy(config: TrainConfig) -> str:
    """The dtype policy of the layers that do the heavy arithmetic: bfloat16 with float32 weights, or float32.

    Snapping, summaries and D's verdict stay float32 (their layers say so), so pixel levels and
    losses keep their precision.
    """
    return "mixed_bfloat16" if config.mixed_precision else "float32"


LATENT_DENSE = "latent_dense"  # the dense from the latent to G's first map (a warm start widens it by positions)


def build_generator(config: TrainConfig) -> keras.Model:
    """Latent vector -> 106x300x1 roll in [-1, 1]: dense to a small map, four doublings, crop to 106x300.

    Each doubling is nearest-neighbour then a 3x3 convolution; model/fast_layers.py computes them (and the
    output convolution and batch normalization) in forms that cost less on a CPU.
    """
    height, width = config.base_shape
    channels = config.generator_channels
    policy = compute_policy(config)
    latent = keras.Input((config.latent_dim,), name="latent")
    inputs, x = latent, latent
    if config.styles:  # the style's embedding joins the latent; zero rows of the dense add a style to a warm start
        style = keras.Input((len(config.styles),), name="style")
        weights = StyleWeights(config.styles, config.style_shares, config.texture_cuts, config.texture_era_mixes,
                               name=STYLE_INPUT)(style)
        embedding = layers.Dense(config.style_dim, use_bias=False, name="style_embedding")(weights)
        inputs, x = [latent, style], layers.Concatenate(name="latent_and_style")([latent, embedding])
    inputs_joined = x
    x = layers.Dense(height * width * channels[0], dtype=policy, name=LATENT_DENSE)(x)
    x = layers.LeakyReLU(0.2, dtype=policy)(x)
    x = layers.Reshape((height, width, channels[0]), dtype=policy)(x)
    if config.bar_sequence:
        x = layers.Add(dtype=policy, name="time_add")([x, bar_sequence(inputs_joined, height, width, channels[0])])
    for filters in channels[1:] + (channels[-1],):
        # Nearest-neighbour doubling then a convolution: no checkerboard pattern, which free stride-2
        # transposed convolutions left all over the rolls in a side-by-side run.
        x = DoubledConv2D(filters, dtype=policy)(x)
        x = BatchNormalization(dtype=policy)(x)
        x = layers.LeakyReLU(0.2, dtype=policy)(x)
    if config.time_warp:
        x = TimeWarp(dtype=policy, name="time_warp")([x, latent])
    if config.octave_view:
        x = octave_view(x, policy)
    # In the compute policy too: oneDNN's float32 kernels for a one-channel convolution cost a sixth of a
    # bfloat16 step. bfloat16 holds tanh near 1 to a quarter of a pixel level, and the saved average
    # generator, which `sample` plays, is float32 throughout.
    x = PhasedConv2D(5, activation="tanh", dtype=policy)(x)
    rows = N_PITCHES - ROWS_ABOVE_PIANO if config.piano_rows_only else N_PITCHES
    extra_h, extra_w = height * 16 - rows, width * 16 - WINDOW_STEPS
    if extra_h < 0 or extra_w < 0:
        raise ValueError(f"base_shape {config.base_shape} is too small for {rows}x{WINDOW_STEPS}")
    x = layers.Cropping2D(((extra_h // 2, extra_h - extra_h // 2), (extra_w // 2, extra_w - extra_w // 2)))(x)
    if config.global_gates:
        x = global_gates(latent, x, rows, config.chord_gates, ROWS_ABOVE_PIANO if config.piano_rows_only else 0)
    if config.snap_output:
        x = SnapToLevels(config.strike_heads, config.onset_velocity, config.restrike_velocity)(x)
    if config.piano_rows_only:
        x = SilenceAbovePiano(ROWS_ABOVE_PIANO)(x)
    return keras.Model(inputs, x, name="generator")


VERDICT = "verdict"  # the name of D's last dense layer
PATCH_UNITS = 128  # width of the patch head's hidden layer (patch_verdicts)


def build_discriminator(config: TrainConfig) -> keras.Model:
    """106x300x1 roll -> probability that it is real (sigmoid, so 0.5 means 'cannot tell')."""

    def normalized(layer: layers.Layer) -> layers.Layer:
        if not config.spectral_norm:
            return layer
        return layers.SpectralNormalization(layer, dtype=layer.dtype_policy, name=f"{layer.name}_normalized")

    policy = compute_policy(config)
    image = keras.Input(MODEL_SHAPE, name="roll")
    x = image
    if config.augment_shift or config.augment_transpose:
        x = MusicAugment(config.augment_shift, config.augment_transpose, seed=config.seed,
                         rows_above=ROWS_ABOVE_PIANO if config.piano_rows_only else 0)(x)
    if config.input_noise:
        x = layers.GaussianNoise(config.input_noise, seed=config.seed)(x)
    summary = None
    if config.summary_view:
        read = RollSummary()(x)
        if config.harmony_view:  # its inputs after the summary's, so that a warm start grows the dense by zero rows
            read = layers.Concatenate(dtype="float32")([read, HarmonyView(dtype="float32")(x)])
        summary = normalized(layers.Dense(64, name="summary_dense"))(read)
        summary = layers.LeakyReLU(0.2)(summary)
    beats = None
    if config.beat_view:
        beats = BeatView()(x)
        for i, filters in enumerate((64, 128, 128)):  # 75 beats -> 38 -> 19 -> 10
            beats = normalized(layers.Conv1D(filters, 3, strides=2, padding="same", dtype=policy,
                                             name=f"beat_conv_{i}"))(beats)
            beats = layers.LeakyReLU(0.2, dtype=policy)(beats)
        beats = layers.Flatten()(beats)
    profile = None
    if config.profile_view:
        profile = ProfileView(config.grid_view, dtype="float32")(x)
        for i in range(2):
            profile = normalized(layers.Dense(PROFILE_UNITS, dtype="float32", name=f"profile_dense_{i}"))(profile)
            profile = layers.LeakyReLU(0.2, dtype="float32")(profile)
    if config.piano_rows_only:
        x = layers.Cropping2D(((ROWS_ABOVE_PIANO, 0), (0, 0)))(x)
    for i, filters in enumerate(config.discriminator_channels):
        x = normalized(layers.Conv2D(filters, 4, strides=2, padding="same", dtype=policy, name=f"trunk_conv_{i}"))(x)
        x = layers.LeakyReLU(0.2, dtype=policy)(x)
    patches = patch_verdicts(x, normalized, policy) if config.patch_critic else None
    if config.minibatch_std:
        x = MinibatchStd(dtype="float32")(x)
    x = layers.Flatten()(x)
    views = [view for view in (summary, beats, profile) if view is not None]
    if views:
        x = layers.Concatenate(dtype="float32")([x, *views])
    x = layers.Dropout(config.dropout, seed=config.seed)(x)
    # Its inputs in order: the trunk, then each view; a warm start (model/checkpoint.py) relies on that.
    features = x
    x = normalized(layers.Dense(1, name=VERDICT))(features)
    inputs = image
    if config.styles:
        # Projection discriminator (Miyato and Koyama, 2018): the verdict plus the inner product of
        # the roll's features with its style's embedding, which starts at zero (D as unconditioned).
        style = keras.Input((len(config.styles),), name="style")
        embedded = layers.Dense(features.shape[-1], use_bias=False, kernel_initializer="zeros", dtype="float32",
                                name="style_projection")(style)
        x = layers.Add(dtype="float32")([x, layers.Dot(axes=1, dtype="float32")([embedded, features])])
        inputs = [image, style]
    x = layers.Activation("sigmoid")(x)
    outputs = [x]
    if config.styles and config.style_classifier:  # AC-GAN's head: D also names the roll's style (logits)
        outputs.append(layers.Dense(len(config.styles), dtype="float32", name="style_logits")(features))
    if patches is not None:
        outputs.append(patches)
    return keras.Model(inputs, outputs if len(outputs) > 1 else x, name="discriminator")


def patch_verdicts(trunk, normalized: Callable, policy: str):
    """D's trunk map (batch, rows, columns, channels) -> (batch, columns) probabilities that each column is real.

    One head, shared by every column, reads the column's whole height: a chord in any octave, the note lengths and
    onsets of about six beats either side. Many small verdicts a roll, where the whole-roll verdict is one.
    """
    _, rows, columns, channels = trunk.shape
    x = layers.Permute((2, 1, 3), dtype=policy)(trunk)
    x = layers.Reshape((columns, rows * channels), dtype=policy)(x)
    x = normalized(layers.Dense(PATCH_UNITS, dtype=policy, name="patch_dense"))(x)
    x = layers.LeakyReLU(0.2, dtype=policy)(x)
    x = normalized(layers.Dense(1, dtype="float32", name="patch_verdict"))(x)
    return layers.Activation("sigmoid", dtype="float32")(layers.Reshape((columns,), dtype="float32")(x))


BUILDERS = {
    "resize": (build_generator, build_discriminator),
    "seed2023": (seed2023.build_generator, seed2023.build_discriminator),
}


def generator_rate(config: TrainConfig) -> float:
    """G's learning rate: its own where set, else D's."""
    return config.learning_rate if config.generator_learning_rate is None else config.generator_learning_rate


def _optimizer(config: TrainConfig, rate: float) -> keras.optimizers.Optimizer:
    if config.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=rate, beta_1=config.beta_1, clipvalue=config.clip_value)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=rate, clipvalue=config.clip_value)
    raise SystemExit(f"train: unknown optimizer {config.optimizer!r}; choose adam or rmsprop")


def build_dcgan(config: TrainConfig) -> Models:
    """The networks and their optimizers, built, so that a checkpoint's state can be restored into them.

    `model.step.GanStep` trains them; the averaged generator starts as a copy of the generator.
    """
    if config.architecture not in BUILDERS:
        raise SystemExit(f"train: unknown architecture {config.architecture!r}; choose one of {', '.join(BUILDERS)}")
    build_g, build_d = BUILDERS[config.architecture]
    generator, discriminator = build_g(config), build_d(config)
    d_optimizer, g_optimizer = _optimizer(config, config.learning_rate), _optimizer(config, generator_rate(config))
    d_optimizer.build(discriminator.trainable_variables)
    g_optimizer.build(generator.trainable_variables)
    average = generator
    if config.ema:
        # float32 throughout: the average is what is saved and sampled, and float32 arithmetic gives the
        # same notes on every backend (bfloat16 rounds differently on each).
        average = build_g(config.replace(mixed_precision=False))
        for target, source in zip(average.variables, generator.variables, strict=True):
            target.assign(keras.ops.convert_to_numpy(source))  # a copy: JAX may donate the source buffer
    return Models(generator, discriminator, average, d_optimizer, g_optimizer)
