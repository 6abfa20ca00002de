"""Checkpoints that a crash can never leave half-written.

A checkpoint is a folder `checkpoints/step_00001234/` holding
  state.npz        every variable of both networks and both optimizers, the
                   step and the training loop's own state: enough to resume exactly;
  generator.keras  the generator alone as a complete Keras model, for `sample`.
It is written into a hidden temporary folder, flushed to disk, then renamed
into place, so a folder with a step name is always complete.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import keras
import numpy as np

PREFIX = "step_"


def _fsync_tree(folder: Path) -> None:
    for path in folder.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _tracked_variables(generator: keras.Model, discriminator: keras.Model, combined: keras.Model) -> list:
    return (list(generator.variables) + list(discriminator.variables)
            + list(discriminator.optimizer.variables) + list(combined.optimizer.variables))


def save(folder: Path, step: int, models: tuple[keras.Model, keras.Model, keras.Model],
         loop_state: dict, keep: int) -> Path:
    """Write checkpoint `step` atomically, then delete all but the newest `keep`."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{step:08d}"
    temporary = folder / f".tmp_{PREFIX}{step:08d}"
    shutil.rmtree(temporary, ignore_errors=True)
    temporary.mkdir()
    values = {f"v{i}": keras.ops.convert_to_numpy(v.value) for i, v in enumerate(_tracked_variables(*models))}
    np.savez(temporary / "state.npz", step=step, loop_state=json.dumps(loop_state), **values)
    models[0].save(temporary / "generator.keras")
    _fsync_tree(temporary)
    if final.exists():
        shutil.rmtree(final)
    os.rename(temporary, final)
    for old in list_checkpoints(folder)[:-keep]:
        shutil.rmtree(old)
    return final


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(PREFIX))


def restore(path: Path, models: tuple[keras.Model, keras.Model, keras.Model]) -> tuple[int, dict]:
    """Load checkpoint `path` into freshly built models; returns (step, loop_state)."""
    variables = _tracked_variables(*models)
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
