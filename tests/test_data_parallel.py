"""Data parallelism on JAX: a step split over two devices computes what one device does.

Runs in subprocesses, because the JAX backend and the virtual CPU devices
(XLA_FLAGS=--xla_force_host_platform_device_count) are fixed when JAX starts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("jax", reason="the JAX backend is not installed (requirements.txt installs it)")

REPO = Path(__file__).resolve().parents[1]
ONE_STEP = """
import sys
import keras
import numpy as np
from model.config import TrainConfig
from model.dcgan import build_dcgan
from model.step import GanStep
from model.train import data_parallel

config = TrainConfig.from_preset("tiny", mixed_precision=False)
keras.utils.set_random_seed(0)
distribution = data_parallel(config.batch_size)
if distribution is not None:
    keras.distribution.set_distribution(distribution)
models = build_dcgan(config)
gan = GanStep(models, config)
rng = np.random.default_rng(0)
real = rng.uniform(-1, 1, (config.batch_size, 106, 300, 1)).astype(np.float32)
state, out = gan.step(gan.state(), real, rng.standard_normal((config.batch_size, 14)),
                      np.full((config.batch_size, 1), 0.9), np.zeros((config.batch_size, 1)), 0.9, step=1)
gan.write_back(state)
devices = 0 if distribution is None else len(distribution.device_mesh.devices.flat)
np.savez(sys.argv[1], devices=devices, g_loss=float(out.g_loss),
         **{f"w{i}": keras.ops.convert_to_numpy(v) for i, v in enumerate(models.generator.trainable_variables)})
"""


def run_one_step(tmp_path: Path, devices: int) -> dict:
    out = tmp_path / f"devices{devices}.npz"
    # Each process runs one step, so XLA's compiling is most of its time: unoptimized, it compiles the
    # initializers and the step in about half the time (90 s to 43 s a process here).
    flags = f"--xla_force_host_platform_device_count={devices} --xla_backend_optimization_level=0"
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": flags, "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", ONE_STEP, str(out)], check=True, env=env, cwd=REPO, capture_output=True)
    with np.load(out) as saved:
        return {name: saved[name] for name in saved.files}


def test_a_step_split_over_two_devices_matches_one_device(tmp_path):
    single, split = run_one_step(tmp_path, 1), run_one_step(tmp_path, 2)
    assert single["devices"] == 0 and split["devices"] == 2  # one device: no distribution at all
    assert split["g_loss"] == pytest.approx(single["g_loss"], rel=1e-4)
    weights = [name for name in single if name.startswith("w")]
    assert weights
    # Adam moves each weight by about +-learning rate whatever the gradient's size, so a gradient
    # near zero, summed in another order over two devices, may step the other way: at most 2 x lr.
    step_size = 2e-4
    close = np.concatenate([np.isclose(split[n], single[n], rtol=1e-4, atol=1e-6).ravel() for n in weights])
    assert close.mean() > 0.99
    for name in weights:
        np.testing.assert_allclose(split[name], single[name], rtol=0, atol=2 * step_size)
