"""Training configuration: one dataclass, a few named presets."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TrainConfig:
    # Architecture (fixed for the life of a run).
    latent_dim: int = 14
    base_shape: tuple[int, int] = (7, 19)  # generator's first feature map; 4 doublings -> 112x304, cropped to 106x300
    generator_channels: tuple[int, ...] = (128, 64, 32, 16)
    discriminator_channels: tuple[int, ...] = (16, 32, 64, 128)
    dropout: float = 0.3
    # Gaussian noise on D's inputs while training: blurs the sharp edge between real and generated
    # rolls so that D cannot win outright and leave the generator no gradient to follow.
    input_noise: float = 0.2
    # Optimisation.
    batch_size: int = 16
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    real_label: float = 0.9  # one-sided label smoothing keeps D from growing over-confident on real rolls
    seed: int = 0
    # When to stop: whichever comes first.
    balance_tol: float = 0.05  # |moving average of D(real) - 0.5| and of D(fake) both within this...
    patience: int = 500  # ...for this many consecutive steps
    average_steps: int = 100  # span of those moving averages
    max_steps: int | None = None
    minutes: float | None = None  # wall-clock budget of this invocation
    # Bookkeeping.
    checkpoint_every: int = 500
    keep: int = 3
    sample_count: int = 8  # rolls in each checkpoint's sample grid, from fixed latents

    ARCHITECTURE = ("latent_dim", "base_shape", "generator_channels", "discriminator_channels", "dropout",
                    "input_noise")

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
        fields = json.loads(path.read_text())
        for name in ("base_shape", "generator_channels", "discriminator_channels"):
            fields[name] = tuple(fields[name])
        return cls(**fields)


PRESETS: dict[str, dict[str, object]] = {
    "default": {},
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
