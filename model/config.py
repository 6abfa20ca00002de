"""Training configuration: one dataclass, a few named presets."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from model import seed2023


@dataclass(frozen=True)
class TrainConfig:
    # Architecture (fixed for the life of a run).
    latent_dim: int = 14
    # The generator draws only the piano's 88 keys (the 18 rows above C8 are added silent) and D reads
    # only those: the rows above never sound in MAESTRO, and they cost a sixth of every convolution.
    piano_rows_only: bool = True
    base_shape: tuple[int, int] = (6, 19)  # generator's first feature map; 4 doublings -> 96x304, cropped to 88x300
    generator_channels: tuple[int, ...] = (128, 64, 32, 16)
    discriminator_channels: tuple[int, ...] = (16, 32, 64, 128)
    dropout: float = 0.3
    # Gaussian noise (this sd) on D's inputs while training blurs the edge between real and generated
    # rolls so that D cannot win outright. Needed before spectral normalization and augmentation; with
    # them it only weakened D (bench/quality/README.md).
    input_noise: float = 0.0
    spectral_norm: bool = True  # on D's layers: bounds how sharply D can change, so G's gradients stay useful
    minibatch_std: bool = True  # D sees the batch's spread, so a generator drawing one roll over and over shows
    # DiffAugment: the same random circular time shift (up to this many steps) and transposition (up
    # to this many semitones) on every roll D sees, real and generated, so D cannot memorise the 16k
    # training rolls; both change where the music is, not what it is.
    # The generator's output rounded to silence, sustain and onset, with a straight-through gradient
    # (see SnapToLevels): D judges the notes `sample` will play, so broken notes cost G something.
    # G's roll gated per beat and per key from the latent (see dcgan.global_gates): rests and a
    # register become one choice each, where generators filled the whole window.
    global_gates: bool = False
    # ...and per beat and pitch class in every octave (see dcgan.ChordGate): a chord as one choice.
    chord_gates: bool = False
    # G's first map gets a term per bar (column) from a recurrent network over the bars (see
    # dcgan.bar_sequence), so that each bar follows from the one before.
    bar_sequence: bool = False
    # G's last map also reads each pitch's octaves above and below (see dcgan.octave_view), so that a chord
    # can be voiced across octaves where 3x3 convolutions paint bands of neighbouring keys.
    octave_view: bool = False
    # G's last map read along time at a rate of 0.80-0.95 columns a step (see dcgan.TimeWarp), so that onsets do
    # not keep to the 16-step grid of four doublings.
    time_warp: bool = False
    # Style conditioning (`train --styles`): the classes (midi2img.styles.STYLE_CLASSES) G draws on
    # request and D's projection judges each roll against, and their shares of the training rolls.
    styles: tuple[str, ...] = ()
    style_shares: tuple[float, ...] = ()
    texture_cuts: tuple[float, ...] = ()  # `train --textures`: the cuts between thirds (texture.cuts, flattened)
    # ...and, where the training rolls name their eras (styles.csv), each era's mix of texture classes
    # (texture.era_mixes, flattened): `--style baroque` draws Baroque's textures.
    texture_era_mixes: tuple[float, ...] = ()
    style_dim: int = 8  # width of G's style embedding, concatenated to the latent
    # Weight of an auxiliary style classifier on D's features (AC-GAN): D learns to name each roll's
    # style, real or generated, G to have its rolls named as asked. 0: none (the projection alone).
    style_classifier: float = 0.0
    # ...learned from G's rolls too, each labelled as asked (AC-GAN); false: from real rolls alone, so that it names
    # what a texture looks like in a pianist's rolls and G cannot move the names by drawing them its own way.
    style_classifier_fakes: bool = True
    snap_output: bool = True
    strike_heads: bool = True  # ...and a sounding pixel after silence drawn as an onset, as real notes begin
    onset_velocity: bool = True  # ...and each onset keeps its level, the note's velocity (else all loudest)
    # ...and a sounding pixel right after a sounding pixel of its key starts a new note only from this velocity
    # up, else it sustains (0: from any onset level). G's held notes flicker just over the onset threshold (its
    # re-strikes: velocity 4 at the median, a pianist's 64); screened at 20, G moved the flicker up to it
    # (bench/quality/README.md).
    restrike_velocity: int = 0
    # D also reads whole-roll summaries (pitch-class and register shares, density; see RollSummary):
    # key and texture are properties of the whole roll that convolutions learn slowly.
    summary_view: bool = True
    # ...and the roll beat by beat (harmony, register, loudness by register; see BeatView): how the
    # music moves through the window, which the trunk's 46-step view and the summary do not see.
    beat_view: bool = False
    # ...and which intervals sound together (see HarmonyView), in the summary view (which it needs).
    harmony_view: bool = False
    # ...and the whole roll's musical profile through two dense layers (see ProfileView): how harmony,
    # rhythm, register and the lines go together, which tells generated rolls apart where the pixels do not.
    profile_view: bool = False
    # ...and how strongly onsets keep to a fixed grid and how thick the thickest steps are (grid_and_thickness),
    # in the profile view (which it needs).
    grid_view: bool = False
    # Weight of D's patch verdicts: besides its verdict on the whole roll, D judges each column of its trunk's last
    # map (every 16 steps, 46 steps seen, all 88 keys) with one shared head, and G is charged for each patch D
    # tells apart (PatchGAN, Isola et al. 2017): a critic of local texture with 19 verdicts a roll (0: none).
    patch_critic: float = 0.0
    augment_shift: int = 32
    augment_transpose: int = 3
    # bfloat16 arithmetic with float32 weights in the convolutions and dense layers of the trained networks
    # (1.47x images/s on a 2-core CPU with AVX-512 BF16, bench/train_speed.py; more on GPUs); pixel levels,
    # losses and the saved average stay float32. Where bfloat16 is emulated (an AVX2 CPU) `train` builds in
    # float32 unless this is set by name (model/train.py, built_settings).
    mixed_precision: bool = True
    # Optimisation.
    batch_size: int = 16
    learning_rate: float = 2e-4
    # G's own rate, where it should learn slower than D (two time-scale updates, Heusel et al. 2017): a run
    # started from a trained generator with a fresh D keeps G still while D learns to see (None: learning_rate).
    generator_learning_rate: float | None = None
    beta_1: float = 0.5  # Adam's
    mode_seeking: float = 1.0  # weight of the mode-seeking term in G's loss (see mode_seeking_loss; 0: none)
    key_matching: float = 0.0  # weight of the in-key term in G's loss (see key_matching_loss; 0: none)
    harmony_matching: float = 0.0  # ...and of the harmony term (harmony_matching_loss)
    rhythm_matching: float = 0.0  # ...and of the note lengths and onsets term (rhythm_matching_loss)
    distribution_matching: float = 0.0  # ...and of the whole-roll profile term (distribution_matching_loss)
    marginal_matching: float = 0.0  # ...and of the per-feature profile term (marginal_matching_loss)
    # The profile term compares each roll with real rolls of its own class (its texture thirds, or its
    # style), not with the whole batch; needs styles or textures.
    matching_by_class: bool = False
    # R1 penalty (Mescheder et al. 2018): D's squared input-gradient norm on real rolls at this weight,
    # applied lazily every r1_every steps (StyleGAN2); an alternative to spectral norm that lets D be sharp.
    r1_gamma: float = 0.0
    r1_every: int = 8
    real_label: float = 0.9  # one-sided label smoothing keeps D from growing over-confident on real rolls
    # The generator kept for sampling is a moving average of the trained one's weights over roughly
    # 1 / (1 - ema) steps: it smooths the step-to-step wobble of GAN training (0: no average).
    ema: float = 0.995
    seed: int = 0
    # When to stop: whichever comes first.
    balance_tol: float = 0.05  # |moving average of D(real) - 0.5| and of D(fake) both within this...
    patience: int = 500  # ...for this many consecutive steps
    average_steps: int = 100  # span of those moving averages
    max_steps: int | None = None
    minutes: float | None = None  # wall-clock budget of the whole run, resumed parts included
    # Bookkeeping.
    checkpoint_every: int = 200
    keep: int = 3
    sample_count: int = 8  # rolls in each checkpoint's sample grid, from fixed latents
    validation_rolls: int = 256  # real and generated rolls behind each checkpoint's validation score (0: none)
    # Only the seed2023 baseline (model/seed2023.py) sets these otherwise.
    architecture: str = "resize"  # "resize" (ours, model/dcgan.py) or "seed2023" (the original model)
    optimizer: str = "adam"  # or "rmsprop"
    clip_value: float | None = None  # clip each gradient element to +-this
    label_noise: float = 0.0  # add uniform noise in [0, this) to every real and fake label

    ARCHITECTURE = ("architecture", "latent_dim", "base_shape", "generator_channels", "discriminator_channels",
                    "dropout", "input_noise", "spectral_norm", "minibatch_std", "snap_output", "strike_heads",
                    "onset_velocity", "piano_rows_only", "global_gates", "chord_gates", "bar_sequence", "octave_view",
                    "time_warp", "styles", "style_dim", "style_classifier", "summary_view", "beat_view", "harmony_view",
                    "profile_view", "grid_view", "patch_critic", "augment_shift", "augment_transpose", "optimizer",
                    "ema")

    @classmethod
    def from_preset(cls, name: str, **overrides: object) -> TrainConfig:
        if name not in PRESETS:
            raise SystemExit(f"train: unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def replace(self, **changes: object) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> TrainConfig:
        """A run's saved settings; one saved before a setting existed gets what it trained with (OLD_RUN_DEFAULTS)."""
        fields = {**OLD_RUN_DEFAULTS, **json.loads(path.read_text())}
        for name in ("base_shape", "generator_channels", "discriminator_channels", "styles", "style_shares",
                     "texture_cuts", "texture_era_mixes"):
            if name in fields:
                fields[name] = tuple(fields[name])
        return cls(**fields)


# What a run saved before each setting existed trained with: soft levels (no snapping), unstruck heads,
# no summary view or mode-seeking term, no velocities, all 106 rows, float32.
OLD_RUN_DEFAULTS: dict[str, object] = {
    "snap_output": False,
    "strike_heads": False,
    "summary_view": False,
    "mode_seeking": 0.0,
    "onset_velocity": False,
    "piano_rows_only": False,
    "mixed_precision": False,
}


def parse_settings(items: list[str]) -> dict[str, object]:
    """`name=value` strings into TrainConfig overrides; values are JSON (0.5, true, [1, 2], "adam") or bare words."""
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    settings: dict[str, object] = {}
    for item in items:
        name, separator, text = item.partition("=")
        if not separator or name not in known:
            raise SystemExit(f"train: --set {item!r}: expected NAME=VALUE with NAME one of {', '.join(sorted(known))}")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        settings[name] = tuple(value) if isinstance(value, list) else value
    return settings


PRESETS: dict[str, dict[str, object]] = {
    "default": {},
    "seed2023": seed2023.SETTINGS,  # the original repository's model, as the baseline to beat
    # Seconds on a CPU: for tests and for trying the pipeline end to end.
    "tiny": {
        "generator_channels": (16, 8, 8, 4),
        "discriminator_channels": (4, 8, 8, 16),
        "batch_size": 8,
        "patience": 50,
        "average_steps": 10,
        "checkpoint_every": 10,
        "max_steps": 20,
        "sample_count": 4,
    },
}
