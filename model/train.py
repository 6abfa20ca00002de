"""The training loop, top to bottom: data, models, resume, steps, checkpoints, stop.

    python pipeline.py train [--preset tiny] [--resume] [--max-steps N] [--minutes M]

Each step (`model/step.py`, one compiled function) trains the generator through the
discriminator, then the discriminator on one real batch and on the generator's batch, then
the averaged generator. Training stops when the moving averages of D(real) and D(fake) both stay
within `balance_tol` of 0.5 for `patience` steps (the discriminator can no longer tell), or at `max_steps`, or
after `minutes`; it prints which.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import os
import time
from pathlib import Path

import keras
import numpy as np
from tqdm import tqdm

from midi2img.rollpng import write_png_atomic
from midi2img.styles import STYLE_CLASSES, read_style_index, style_class, styles_of
from model import checkpoint, metrics, texture, twosample
from model.config import TrainConfig
from model.data import ImageStream, list_images, sample_paths
from model.dcgan import Models, build_dcgan, generator_rate
from model.evaluate import read_real_set
from model.generate import generate_rolls, latents, roll_grid
from model.step import GanStep, StepOutput
from model.style import one_hot_styles

LOG_FIELDS = ("step", "d_loss_real", "d_loss_fake", "g_loss", "d_real", "d_fake", "d_real_average",
              "d_fake_average", "images_per_second", "seconds", "validation_accuracy", "validation_fd")


def gpu_names() -> list[str]:
    """The GPUs the Keras backend sees."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        names = [g.name for g in gpus]
    elif backend == "jax":
        import jax

        names = [str(d) for d in jax.devices() if d.platform == "gpu"]
    elif backend == "torch":
        import torch

        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    else:
        names = []
    return names


def describe_device() -> str:
    """Which device the Keras backend will train on, in words."""
    names, backend = gpu_names(), keras.backend.backend()
    if names:
        return f"train: backend {backend}, on GPU: {', '.join(names)}"
    return f"train: backend {backend}, on CPU (no GPU visible)"


def fast_bfloat16() -> bool:
    """Whether bfloat16 arithmetic pays here: on a GPU, or a CPU with AVX-512 BF16 or AMX. Elsewhere it is
    emulated (an AVX2 CPU trains the shipped model about 6x slower in mixed bfloat16 than in float32)."""
    if gpu_names():
        return True
    try:
        flags = set(Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def built_settings(config: TrainConfig, overrides: dict) -> TrainConfig:
    """The settings the models are built by: the run's, with mixed bfloat16 only where it is fast, unless a
    run asks for it by name (`--set mixed_precision=true`). Either way the weights are float32, so a run
    resumes on any machine."""
    if config.mixed_precision and "mixed_precision" not in overrides and not fast_bfloat16():
        print("train: float32, not mixed bfloat16: this CPU has no native bfloat16 (AVX-512 BF16 or AMX) "
              "and would run several times slower (--set mixed_precision=true to insist)")
        return config.replace(mixed_precision=False)
    return config


def data_parallel(batch_size: int) -> keras.distribution.DataParallel | None:
    """On JAX with several devices: data parallelism, each device taking an equal slice of every batch."""
    if keras.backend.backend() != "jax":
        return None
    devices = keras.distribution.list_devices()
    if len(devices) < 2:
        return None
    if batch_size % len(devices):
        raise SystemExit(f"train: batch {batch_size} does not split evenly over {len(devices)} devices; "
                         f"pass --batch-size a multiple of {len(devices)}")
    return keras.distribution.DataParallel(devices=devices)


def resolve_config(run_dir: Path, resume: bool, preset: str, overrides: dict) -> TrainConfig:
    """A new run takes the preset plus overrides; a resumed run keeps its saved settings plus overrides.

    A run folder that holds only a config.json (a recipe copied in to start from) has no weights yet,
    so its architecture may still change.
    """
    saved = run_dir / "config.json"
    if resume and saved.exists():
        config = TrainConfig.load(saved)
        changed = [k for k in TrainConfig.ARCHITECTURE if k in overrides and overrides[k] != getattr(config, k)]
        if changed and checkpoint.list_checkpoints(run_dir / "checkpoints"):
            raise SystemExit(f"train: cannot change {', '.join(changed)} when resuming {run_dir}")
        return config.replace(**overrides)
    if not resume and checkpoint.list_checkpoints(run_dir / "checkpoints"):
        raise SystemExit(f"train: {run_dir} already holds checkpoints; pass --resume to continue "
                         "or --run-dir for a new run")
    return TrainConfig.from_preset(preset, **overrides)


@dataclasses.dataclass
class Balance:
    """Moving averages of D's outputs and how long both have sat near 0.5."""

    d_real: float | None = None
    d_fake: float | None = None
    balanced_steps: int = 0

    def update(self, d_real: float, d_fake: float, config: TrainConfig) -> None:
        rate = 1.0 / config.average_steps
        self.d_real = d_real if self.d_real is None else self.d_real + rate * (d_real - self.d_real)
        self.d_fake = d_fake if self.d_fake is None else self.d_fake + rate * (d_fake - self.d_fake)
        near = abs(self.d_real - 0.5) <= config.balance_tol and abs(self.d_fake - 0.5) <= config.balance_tol
        self.balanced_steps = self.balanced_steps + 1 if near else 0


class ValidationScore:
    """How well a classifier tells the averaged generator's rolls from held-out real rolls, and the best so far.

    D near 0.5 says only that D is stuck, not that the music is good. The score is the two-sample
    test's musical-feature classifier accuracy (0.5: it cannot tell; `model.twosample`), and the
    checkpoint with the lowest one is kept in `best/`. The Frechet distance is logged beside it.
    """

    def __init__(self, folder: Path, config: TrainConfig):
        paths = sample_paths(folder, config.validation_rolls, config.seed, "train")
        rolls, self.real = read_real_set(paths, "train")
        self.real_features = metrics.features(rolls)
        self.latents = latents([config.seed, 3], config.validation_rolls, config.latent_dim)
        self.styles = drawn_styles(config, config.validation_rolls)
        print(f"train: scoring checkpoints against {len(paths)} rolls from {folder}")

    def __call__(self, generator: keras.Model) -> tuple[float, float]:
        """(two-sample feature accuracy, Frechet distance) of the generator's rolls."""
        rolls = generate_rolls(generator, self.latents, self.styles)
        generated = twosample.prepare(rolls, twosample.own_groups("generated", len(rolls)))
        accuracy = twosample.boosted_accuracy(self.real.musical, self.real.groups, generated.musical,
                                              generated.groups).mean
        return accuracy, metrics.frechet_distance(self.real_features, metrics.features(rolls))


class Interval:
    """The steps since the last checkpoint: their numbers, for the log's means, and their speed."""

    def __init__(self) -> None:
        self.rows: list[tuple[float, ...]] = []
        self.started = time.monotonic()

    def add(self, out: StepOutput, step: int, checkpoints: Path, progress: tqdm) -> tuple[float, ...]:
        """The step's (d_loss_real, d_loss_fake, g_loss, d_real, d_fake) as floats; stops the run on NaN or Inf."""
        values = tuple(float(v) for v in out)
        if not np.all(np.isfinite(values)):
            _diverged(f"a loss became NaN or infinite at step {step}", checkpoints, progress)
        self.rows.append(values)
        return values

    def images_per_second(self, batch: int) -> float:
        return len(self.rows) * batch / max(time.monotonic() - self.started, 1e-9)


@dataclasses.dataclass
class RunFolder:
    """What a run writes: checkpoints, the best one so far (`best/`), preview grids and `log.csv`."""

    path: Path
    config: TrainConfig
    models: Models
    score: ValidationScore | None
    best_score: float = float("inf")

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    def resume(self) -> tuple[int, Balance]:
        """Restore the newest good checkpoint: (its step, the stop rule's state); (0, new) where there is none."""
        newest = checkpoint.newest_valid(self.checkpoints, "train")
        if newest:
            step, loop_state = checkpoint.restore(newest, self.models)
            self.best_score = loop_state.get("best_accuracy", self.best_score)
            # Restored too; the settings given now win.
            self.models.d_optimizer.learning_rate.assign(self.config.learning_rate)
            self.models.g_optimizer.learning_rate.assign(generator_rate(self.config))
            print(f"train: resumed from {newest} at step {step}")
            return step, Balance(**loop_state["balance"])
        if checkpoint.list_checkpoints(self.checkpoints):
            raise SystemExit(f"train: every checkpoint in {self.checkpoints} is damaged (see above); "
                             "move them away to start a new run there")
        print(f"train: no checkpoint in {self.checkpoints}; starting a new run")
        return 0, Balance()

    def start(self, step: int) -> float:
        """Save the settings and drop log rows past `step`, which a crash after the last checkpoint may have left;
        return the run's training seconds up to `step`, so that a resumed run's clock and `--minutes` go on."""
        (self.path / "samples").mkdir(parents=True, exist_ok=True)
        self.config.save(self.path / "config.json")
        return _truncate_log(self.path / "log.csv", step)

    def checkpoint(self, step: int, balance: Balance, interval: Interval, seconds: float, progress: tqdm) -> Path:
        """Score the averaged generator; save a checkpoint (and `best/` if it is the best), a preview, a log row."""
        speed = interval.images_per_second(self.config.batch_size)  # training alone, before the scoring
        accuracy, fd = self.score(self.models.average) if self.score else (float("nan"), float("nan"))
        row = (step, *np.round(np.mean(interval.rows, axis=0), 5), round(balance.d_real, 5),
               round(balance.d_fake, 5), round(speed, 4), round(seconds, 1), round(accuracy, 4), round(fd, 3))
        loop_state = {"balance": dataclasses.asdict(balance), "best_accuracy": min(self.best_score, accuracy)}
        try:
            saved = checkpoint.save(self.checkpoints, step, self.models, loop_state, self.config.keep)
        except checkpoint.CheckpointError as error:
            _diverged(str(error), self.checkpoints, progress)
        if accuracy < self.best_score:
            self.best_score = accuracy
            checkpoint.keep_best(saved, self.path / "best", {"validation_accuracy": accuracy, "validation_fd": fd})
            progress.write(f"train: step {step}: validation two-sample accuracy {accuracy:.3f} "
                           f"(Frechet distance {fd:.1f}), the best so far")
        preview = latents([self.config.seed, 2], self.config.sample_count, self.config.latent_dim)
        rolls = generate_rolls(self.models.average, preview, drawn_styles(self.config, len(preview)))
        write_png_atomic(roll_grid(rolls), self.path / "samples" / f"step_{step:08d}.png")
        _append_log(self.path / "log.csv", row)
        return saved


def stop_reason(balance: Balance, step: int, seconds: float, config: TrainConfig) -> str | None:
    """Why training stops after `step`, or None to go on."""
    if balance.balanced_steps >= config.patience:
        return (f"D(real) and D(fake) moving averages ({balance.d_real:.3f}, {balance.d_fake:.3f}) "
                f"stayed within {config.balance_tol} of 0.5 for {config.patience} steps")
    if config.max_steps is not None and step >= config.max_steps:
        return f"reached --max-steps {config.max_steps}"
    if config.minutes is not None and seconds >= config.minutes * 60:
        return f"reached --minutes {config.minutes:g}"
    return None


def drawn_styles(config: TrainConfig, count: int) -> np.ndarray | None:
    """(count, classes) one-hot styles drawn in the training rolls' proportions, for scoring and previews; None
    without styles."""
    if not config.styles:
        return None
    return one_hot_styles(config.style_shares, count, np.random.default_rng([config.seed, 6]))


def step_inputs(config: TrainConfig, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.float32]:
    """Step `step`'s latents, real and fake labels and averaging decay: a pure function of (seed, step)."""
    batch = config.batch_size
    noise = np.random.default_rng([config.seed, 4, step]).uniform(0, config.label_noise, (2, batch, 1))
    decay = np.float32(min(config.ema, (1 + step + 1) / (10 + step + 1)))  # a short average while G is young
    return latents([config.seed, 1, step], batch, config.latent_dim), config.real_label + noise[0], noise[1], decay


def style_labels(paths: list[Path], folder: Path, names: tuple[str, ...]) -> np.ndarray:
    """Each roll's index in `names`, -1 where it has none: by the `styles.csv` beside it (midi2img/styles.py),
    or, for texture classes, by its own pixels (model/texture.py)."""
    if texture.are_textures(names):
        classes = texture_classes(tuple(paths))
    else:
        classes = [style_class(*labels) for labels in styles_of(folder, paths, "train: --styles")]
    return np.array([names.index(c) if c in names else -1 for c in classes])


@functools.cache  # a new run reads its rolls' measures for the cuts, the classes' shares and the stream
def texture_measures(paths: tuple[Path, ...]) -> np.ndarray:
    return texture.measure_files(list(paths), "train")


def texture_cuts(paths: list[Path]) -> tuple[float, ...]:
    """The cuts between the thirds of these rolls' measures, flattened as TrainConfig.texture_cuts keeps them."""
    return tuple(texture.cuts(texture_measures(tuple(paths))).ravel().tolist())  # unrounded: labels cut by them


def texture_classes(paths: tuple[Path, ...]) -> list[str]:
    """Each roll's texture class, by the thirds of these rolls' own measures, cut where the run keeps its cuts."""
    return texture.class_names(texture.thirds(texture_measures(paths), np.reshape(texture_cuts(list(paths)), (2, 3))))


def texture_era_mixes(paths: list[Path], images: Path) -> tuple[float, ...]:
    """Each era's mix of these rolls' texture classes (texture.era_mixes); () where `images` has no styles.csv."""
    if not read_style_index(images):
        return ()
    eras = [era for _, era in styles_of(images, paths, "train: --textures")]
    return texture.era_mixes(texture_classes(tuple(paths)), eras)


def labelled_stream(paths: list[Path], images: Path, config: TrainConfig) -> ImageStream:
    """The training rolls `paths` (of folder `images`), with their style classes where the run is
    style-conditioned (unlabelled rolls left out)."""
    if not config.styles:
        return ImageStream(paths, config.batch_size, config.seed)
    labels = style_labels(paths, Path(images), config.styles)
    if (labels < 0).any():
        print(f"train: {int((labels < 0).sum())} rolls without a style left out")
    paths = [path for path, label in zip(paths, labels, strict=True) if label >= 0]
    return ImageStream(paths, config.batch_size, config.seed, classes=labels[labels >= 0],
                       n_classes=len(config.styles))


def styled_overrides(paths: list[Path], images: Path, overrides: dict, textures: bool = False) -> dict:
    """A new conditioned run's settings: its classes (STYLE_CLASSES, or the 27 texture classes) and each
    one's share of the training rolls."""
    names = texture.CLASSES if textures else STYLE_CLASSES
    labels = style_labels(paths, Path(images), names)
    counts = np.bincount(labels[labels >= 0], minlength=len(names))
    shares = tuple(np.round(counts / counts.sum(), 6).tolist())
    if textures:
        overrides = {**overrides, "texture_cuts": texture_cuts(paths),
                     "texture_era_mixes": texture_era_mixes(paths, Path(images))}
    return {**overrides, "styles": names, "style_shares": shares}


def train(images: Path, run_dir: Path, resume: bool = False, preset: str = "default",
          validation_images: Path | None = None, init_from: Path | None = None, styles: bool = False,
          textures: bool = False,
          **overrides: object) -> Path:
    """Train until a stop rule fires; returns the newest checkpoint folder.

    `init_from`, a checkpoint of a run that differs in D's views, G's gates, styles, bar sequence or octave
    view, gives a new run its first weights (see checkpoint.warm_start); a run resumed from its own checkpoint
    ignores it.
    `styles` conditions a new run on the style classes of `styles.csv` beside `images`; `textures`
    on each roll's texture class (model/texture.py).

    `validation_images` (default: a `validation` folder beside `images`, if there is one)
    scores each checkpoint; without it no best checkpoint is kept.
    """
    paths = list_images(images)  # every header checked once: thousands of files
    if styles and textures:
        raise SystemExit("train: --styles and --textures each condition a run; choose one")
    if (styles or textures) and not (resume and (run_dir / "config.json").exists()):
        overrides = styled_overrides(paths, images, overrides, textures)
    config = resolve_config(run_dir, resume, preset, overrides)
    if config.matching_by_class and not config.styles:
        raise SystemExit("train: matching_by_class compares rolls class by class; train with --styles or --textures")
    for view, host in (("grid_view", "profile_view"), ("harmony_view", "summary_view")):  # read inside its host
        if getattr(config, view) and not getattr(config, host):
            raise SystemExit(f"train: {view} joins the {host.removesuffix('_view')} view; set {host}=true too")
    if texture.are_textures(config.styles) and not config.texture_cuts:
        config = config.replace(texture_cuts=texture_cuts(paths))  # a texture run saved before they were kept
    stream = labelled_stream(paths, images, config)
    print(describe_device())
    print(f"train: {len(stream.paths)} images from {images}, batch {config.batch_size}, run folder {run_dir}")
    if validation_images is None and (Path(images).parent / "validation").is_dir():
        validation_images = Path(images).parent / "validation"
    score = ValidationScore(validation_images, config) if validation_images and config.validation_rolls else None

    keras.utils.set_random_seed(config.seed)
    distribution = data_parallel(config.batch_size)
    if distribution is not None:
        keras.distribution.set_distribution(distribution)
        print(f"train: data parallel over {len(distribution.device_mesh.devices.flat)} devices")
    models = build_dcgan(built_settings(config, overrides))
    run = RunFolder(run_dir, config, models, score)
    step, balance = run.resume() if resume else (0, Balance())
    if init_from is not None and step == 0:
        checkpoint.warm_start(init_from, models)
        print(f"train: new run, starting from the weights of {init_from}")
    elapsed = run.start(step)
    gan = GanStep(models, config)
    state = gan.state()

    started, interval, reason = time.monotonic() - elapsed, Interval(), None
    with tqdm(total=config.max_steps, initial=step, unit="step", dynamic_ncols=True) as progress:
        for real, real_styles in stream.batches(start=step):
            state, out = gan.step(state, real, *step_inputs(config, step), step, real_styles)
            step += 1
            d_loss_real, d_loss_fake, g_loss, d_real, d_fake = interval.add(out, step, run.checkpoints, progress)
            balance.update(d_real, d_fake, config)
            progress.update(1)
            progress.set_postfix(d_loss=f"{(d_loss_real + d_loss_fake) / 2:.3f}", g_loss=f"{g_loss:.3f}",
                                 d_real=f"{d_real:.2f}", d_fake=f"{d_fake:.2f}")
            reason = stop_reason(balance, step, time.monotonic() - started, config)
            if step % config.checkpoint_every == 0 or reason:
                gan.write_back(state)
                saved = run.checkpoint(step, balance, interval, time.monotonic() - started, progress)
                interval = Interval()
            if reason:
                break
    print(f"train: stopped at step {step}: {reason}; checkpoint {saved}")
    if score:
        print(f"train: best validation two-sample accuracy {run.best_score:.3f}: {run_dir / 'best'}")
    return saved


def _diverged(what: str, checkpoints: Path, progress: tqdm) -> None:
    """Stop on NaN/Inf without writing it anywhere; the newest good checkpoint stays the one to resume."""
    progress.close()
    kept = checkpoint.newest_valid(checkpoints, "train")
    raise SystemExit(f"train: {what}; stopped without saving it. Last good checkpoint: {kept or 'none'}. "
                     "Try a lower --learning-rate")


def _truncate_log(path: Path, step: int) -> float:
    """Drop log rows past `step`, which a crash after the last checkpoint may have left; return the seconds of
    the last row kept (0 without one)."""
    if not path.exists():
        return 0.0
    with open(path, newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if int(r["step"]) <= step]
    temporary = path.with_suffix(".tmp")
    with open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, LOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(temporary, path)
    return float(rows[-1]["seconds"]) if rows else 0.0


def _append_log(path: Path, row: tuple) -> None:
    new = not path.exists()
    with open(path, "a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(LOG_FIELDS)
        writer.writerow(row)
