"""Checkpoints that a crash can never leave half-written, verified when read back.

A checkpoint is a folder `checkpoints/step_00001234/` holding
  state.npz        every variable of both networks and both optimizers, the
                   step and the training loop's own state: enough to resume exactly;
  generator.keras  the generator alone as a complete Keras model, for `sample`;
  manifest.json    the SHA-256 of both, written last.
It is written into a hidden temporary folder, flushed to disk, then renamed
into place, so a folder with a step name is complete when written; the manifest
catches damage done to it later, and `newest_valid` then falls back to an older one.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np

from midi2img.atomic import first_line, sha256_file
from midi2img.spec import IMAGE_SHAPE, MODEL_SHAPE
from model import dcgan  # registers the custom layers (SnapToLevels, SilenceAbovePiano) a .keras generator holds
from model.fast_layers import DoubledConv2D

PREFIX = "step_"
MANIFEST = "manifest.json"
PAYLOAD = ("state.npz", "generator.keras")


class CheckpointError(Exception):
    """A checkpoint folder that cannot be trusted, with the reason."""



def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _tracked_variables(models: dcgan.Models) -> list:
    tracked = (list(models.generator.variables) + list(models.discriminator.variables)
               + list(models.d_optimizer.variables) + list(models.g_optimizer.variables))
    if models.average is not models.generator:
        tracked += list(models.average.variables)
    return tracked


def save(folder: Path, step: int, models: dcgan.Models, loop_state: dict, keep: int) -> Path:
    """Write checkpoint `step` atomically, then delete all but the newest `keep`."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{step:08d}"
    temporary = folder / f".tmp_{PREFIX}{step:08d}"
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        temporary.mkdir()
        values = {f"v{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(_tracked_variables(models))}
        if not all(np.isfinite(v).all() for v in values.values() if v.dtype.kind == "f"):
            raise CheckpointError(f"weights became NaN or infinite by step {step}")
        np.savez(temporary / "state.npz", step=step, loop_state=json.dumps(loop_state), **values)
        models.average.save(temporary / "generator.keras")
        manifest = {"step": step, "sha256": {name: sha256_file(temporary / name) for name in PAYLOAD}}
        (temporary / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _fsync_tree(temporary)
    except CheckpointError:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if error.errno == errno.ENOSPC:
            raise SystemExit(f"train: no space left on the device writing checkpoint {final}; "
                             "free some space and run again with --resume") from None
        raise SystemExit(f"train: cannot write checkpoint {final}: {error}") from None
    if final.exists():
        shutil.rmtree(final)
    os.rename(temporary, final)
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old)
    return final


def keep_best(saved: Path, best: Path, scores: dict[str, float]) -> None:
    """Copy checkpoint `saved`'s generator to `best/` (replacing it whole), with its step and scores in best.json."""
    temporary = best.with_name(f".tmp_{best.name}")
    shutil.rmtree(temporary, ignore_errors=True)
    try:
        temporary.mkdir(parents=True)
        shutil.copy2(saved / "generator.keras", temporary / "generator.keras")
        record = {"checkpoint": saved.name, **scores,
                  "sha256": {"generator.keras": sha256_file(temporary / "generator.keras")}}
        (temporary / "best.json").write_text(json.dumps(record, indent=2) + "\n")
        _fsync_tree(temporary)
    except OSError as error:
        shutil.rmtree(temporary, ignore_errors=True)
        raise SystemExit(f"train: cannot write {best}: {error}") from None
    old = best.with_name(f".old_{best.name}")
    shutil.rmtree(old, ignore_errors=True)
    if best.exists():
        os.rename(best, old)
    os.rename(temporary, best)
    shutil.rmtree(old, ignore_errors=True)


def list_checkpoints(folder: Path) -> list[Path]:
    """Checkpoint folders by step name, oldest first (not yet verified)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def verify(path: Path) -> None:
    """Raise CheckpointError unless every file matches the manifest written with it."""
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        expected = manifest["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(f"{path}: unreadable {MANIFEST} ({error})") from None
    for name in PAYLOAD:
        file = path / name
        if not file.is_file():
            raise CheckpointError(f"{path}: {name} is missing")
        if sha256_file(file) != expected.get(name):
            raise CheckpointError(f"{path}: {name} does not match its checksum (damaged after it was written)")


def newest_valid(folder: Path, stage: str) -> Path | None:
    """The newest checkpoint that verifies; `stage` prefixes the line said for each newer one skipped."""
    for path in reversed(list_checkpoints(folder)):
        try:
            verify(path)
            return path
        except CheckpointError as error:
            print(f"{stage}: skipping damaged checkpoint: {error}", file=sys.stderr)
    return None


def restore(path: Path, models: dcgan.Models) -> tuple[int, dict]:
    """Load checkpoint `path` into freshly built models; returns (step, loop_state)."""
    variables = _tracked_variables(models)
    with np.load(path / "state.npz") as saved:
        count = len(saved.files) - 2
        if count != len(variables):
            raise SystemExit(f"train: {path} holds {count} variables, this model has {len(variables)}; "
                             "was it written with other architecture settings?")
        for i, variable in enumerate(variables):
            value = saved[f"v{i}"]
            if tuple(value.shape) != tuple(variable.shape):
                raise SystemExit(f"train: {path}: variable {variable.path} has shape {value.shape}, "
                                 f"model expects {tuple(variable.shape)}")
            variable.assign(value)
        return int(saved["step"]), json.loads(str(saved["loop_state"]))


ADDED_LAYERS = ("gate_", "style_", "time_", "pitch_")  # G's layers a warm start may add (dcgan.global_gates,
# style conditioning, dcgan.bar_sequence, dcgan.octave_view)


def widened(old: np.ndarray, shape: tuple[int, ...], positions: int, rng: np.random.Generator) -> np.ndarray | None:
    """`old` grown to `shape` by copies of its channels (Net2WiderNet, Chen et al. 2016), or None where it cannot be.

    Output channels (the last axis; for the latent's dense, the channels of each of its `positions` map
    positions) are copied. A convolution's input channels are copied with their weights split at random
    among the copies, so the wider layer computes exactly what the narrow one did, yet the copies get
    different gradients and can grow apart.
    """
    value = old
    if value.ndim == 4 and shape[2] != value.shape[2]:
        if shape[2] % value.shape[2]:
            return None
        shares = rng.uniform(0.5, 1.5, (shape[2] // value.shape[2], *value.shape))
        value = np.concatenate(list(value * (shares / shares.sum(axis=0))), axis=2)
    if value.shape[:-1] == tuple(shape[:-1]) and shape[-1] != value.shape[-1]:
        if shape[-1] % value.shape[-1] or value.shape[-1] % positions:
            return None
        grouped = value.reshape(*value.shape[:-1], positions, -1)
        value = np.tile(grouped, shape[-1] // value.shape[-1]).reshape(shape)
    return value.astype(old.dtype) if value.shape == tuple(shape) else None


def _carried(new: keras.layers.Layer, old: keras.layers.Layer, path: Path, positions: int = 1,
             rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """`old`'s weights for `new`: as they are; for a generator's layer (given `rng`), widened where it has
    more channels (`widened`, with `positions` for the latent's dense); or a dense kernel grown by inputs the
    old layer did not have (a D view, G's style embedding), or D's style projection grown by outputs for a
    view's features, whose weights start at zero so that nothing changes yet. D is never widened: its verdict
    reads a flattened map, which copies would scramble."""
    weights = []
    for new_value, old_value in zip(new.get_weights(), old.get_weights(), strict=True):
        value = old_value
        old_shape, new_shape = value.shape, new_value.shape
        more_inputs = len(old_shape) == 2 and new_shape[1] == old_shape[1] and new_shape[0] > old_shape[0]
        more_outputs = (rng is None and len(old_shape) == 2 and new_shape[0] == old_shape[0]
                        and new_shape[1] > old_shape[1])  # D's style projection, its features grown by a view
        if more_inputs or more_outputs:
            value = np.zeros_like(new_value)
            value[:old_shape[0], :old_shape[1]] = old_value
        elif old_shape != new_shape:
            value = None if rng is None else widened(value, new_shape, positions, rng)
        if value is None:
            raise SystemExit(f"train: --init-from {path}: layer {new.name} has shape {old_shape} there and "
                             f"{new_shape} here")
        weights.append(value)
    return weights


def warm_start(path: Path, models: dcgan.Models) -> None:
    """Start new models from checkpoint `path` of a run that differs in D's views or in G's width, gates,
    styles, bar sequence, octave view or time warp.

    G and its average are taken layer by layer in order, but for layers the old G did not have
    (gates, which start nearly open; a style embedding, whose weights on the latent's dense start at
    zero; a bar sequence, whose projection starts at zero; an octave view, which starts at zero). A
    generator with a whole multiple of the old one's channels starts as the old one widened (`widened`),
    drawing what it drew. D's layers are taken by name; the verdict's weights on inputs the old D did
    not have (a view added since) and a new style projection start at zero, so that the new D first
    judges exactly as the old one did. Optimizer state starts afresh. The old run's settings are read
    from `config.json` in the run folder that holds `path` (`RUN/checkpoints/step_N` or a copy at
    `RUN/resume/step_N`).

    `path` may also be a generator file (`pretrained/generator.keras`): G and its average both start
    from it the same way, and D starts afresh, so that a shipped generator can be trained on.
    """
    path = Path(path)
    if path.is_file():
        generator = load_generator(path, "train")
        pairs, discriminator = ((models.generator, generator), (models.average, generator)), None
    else:
        source = _source_models(path)
        pairs = ((models.generator, source.generator), (models.average, source.average))
        discriminator = source.discriminator
    for target, origin in pairs:
        _carry_generator(target, origin, path)
    if discriminator is None:
        print("train: the discriminator starts afresh (a generator file holds none)")
        return
    old_layers = {layer.name: layer for layer in discriminator.layers}
    for layer in models.discriminator.layers:
        old = old_layers.get(layer.name)
        if old is not None and layer.weights:
            layer.set_weights(_carried(layer, old, path))


def _carry_generator(target: keras.Model, origin: keras.Model, path: Path) -> None:
    """`origin`'s weights into generator `target`, layer by layer (see `warm_start`)."""

    def kept(model: keras.Model) -> list[keras.layers.Layer]:
        return [layer for layer in model.layers if layer.weights and not layer.name.startswith(ADDED_LAYERS)]

    if len(kept(target)) != len(kept(origin)):
        raise SystemExit(f"train: --init-from {path}: its generator is built differently; only the "
                         "discriminator's views and the generator's width, gates, styles, bar sequence and octave "
                         "view may change")
    added = {layer.name: layer for layer in origin.layers if layer.weights and layer.name.startswith(ADDED_LAYERS)}
    names = {layer.name for layer in target.layers}
    dropped = [name for name in added if name not in names]
    if dropped:
        raise SystemExit(f"train: --init-from {path}: its generator has {', '.join(dropped)}, which this run "
                         "would drop; build it with them, as that run was")
    pairs = [*zip(kept(target), kept(origin), strict=True),
             *((layer, added[layer.name]) for layer in target.layers if layer.name in added)]
    rng = np.random.default_rng(0)  # the same splits for G and its average
    for new, old in pairs:
        positions = 1
        if new.name == dcgan.LATENT_DENSE:  # its units are a map's positions times the first convolution's inputs
            first = next(layer for layer in target.layers if isinstance(layer, DoubledConv2D))
            positions = new.units // first.kernel.shape[2]
        new.set_weights(_carried(new, old, path, positions, rng))


def _source_models(path: Path) -> dcgan.Models:
    """The models of checkpoint `path`, built by the settings of the run folder that holds it."""
    from model.config import TrainConfig

    verify(path)
    settings = path.parent.parent / "config.json"
    if not settings.is_file():
        raise SystemExit(f"train: --init-from {path}: no {settings} beside it to say how it was built")
    source = dcgan.build_dcgan(TrainConfig.load(settings))
    restore(path, source)
    return source


def load_generator(path: Path, stage: str = "sample") -> keras.Model:
    """A generator from a .keras file or a run folder (its newest checkpoint), with a clear error otherwise."""
    path = Path(path)
    if path.is_dir():
        newest = newest_valid(path / "checkpoints", stage) or newest_valid(path, stage)
        if newest is None:
            raise SystemExit(f"{stage}: no usable checkpoint in {path}")
        path = newest / "generator.keras"
    if not path.is_file():
        raise SystemExit(f"{stage}: model {path} not found")
    if path.stat().st_size == 0:
        raise SystemExit(f"{stage}: cannot load model {path}: empty file (0 bytes)")
    if path.suffix.lower() not in (".keras", ".h5"):
        raise SystemExit(f"{stage}: cannot load model {path}: not a .keras model file (a generator is "
                         "saved as NAME.keras; give that file or its run folder)")
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        raise SystemExit(f"{stage}: cannot load model {path}: not a .keras model file "
                         "(a .keras file is a zip archive; this one is truncated or something else)")
    try:
        generator = keras.models.load_model(path, compile=False)
    except Exception as error:  # keras reports broken files with many exception types; one line for all
        raise SystemExit(f"{stage}: cannot load model {path}: {first_line(error)}") from None
    try:
        input_shape, output_shape = tuple(generator.input_shape), tuple(generator.output_shape)
    except (AttributeError, TypeError, ValueError):  # a model with several or no inputs/outputs
        raise SystemExit(f"{stage}: {path} is not a generator (no single input and output)") from None
    if tuple(output_shape[1:]) != MODEL_SHAPE or len(input_shape) != 2:
        raise SystemExit(f"{stage}: {path} maps {input_shape} -> {output_shape}, "
                         f"not a latent vector -> {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}x1 generator")
    return generator


def draws_velocities(generator: keras.Model) -> bool:
    """Whether a generator's onsets carry velocities; one trained before they did draws every onset loudest."""
    return any(isinstance(layer, dcgan.SnapToLevels) and layer.velocity for layer in generator.layers)


def drawn_dynamics(generator: keras.Model, dynamics: str, stage: str) -> bool:
    """Whether `--dynamics` keeps the generator's velocities ("drawn") rather than having them played
    ("played"); a clear exit for "drawn" with a generator that draws none."""
    if dynamics == "drawn" and not draws_velocities(generator):
        raise SystemExit(f"{stage}: --dynamics drawn: this generator draws no velocities (it was trained before "
                         "onsets carried them); leave --dynamics at played")
    return dynamics == "drawn"
