"""Training that survives kill -9, damaged checkpoints and diverging losses."""

from __future__ import annotations

import errno
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from model import checkpoint
from model.train import train
from tests.test_model import write_rolls

REPO = Path(__file__).resolve().parents[1]


def test_damaged_newest_checkpoint_falls_back_to_an_older_one(tmp_path, capsys):
    images = write_rolls(tmp_path / "imgs", 16)
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=4, checkpoint_every=2)
    newest = run / "checkpoints" / "step_00000004" / "state.npz"
    newest.write_bytes(newest.read_bytes()[:1000])  # truncated behind our back
    with pytest.raises(checkpoint.CheckpointError, match="does not match"):
        checkpoint.verify(newest.parent)
    final = train(images, run, resume=True, max_steps=6)
    out = capsys.readouterr()
    assert "skipping damaged checkpoint" in out.err and "resumed from" in out.out
    assert "step_00000002 at step 2" in out.out
    assert final.name == "step_00000006"
    checkpoint.verify(final)


def test_resume_refuses_when_every_checkpoint_is_damaged(tmp_path):
    images = write_rolls(tmp_path / "imgs", 16)
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2)
    (run / "checkpoints" / "step_00000002" / "manifest.json").unlink()
    with pytest.raises(SystemExit, match="every checkpoint .* is damaged"):
        train(images, run, resume=True, max_steps=4)
    assert [p.name for p in checkpoint.list_checkpoints(run / "checkpoints")] == ["step_00000002"]


def test_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path):
    images = write_rolls(tmp_path / "imgs", 16)
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2)
    with pytest.raises(SystemExit, match="NaN or infinite.*step_00000002"):
        train(images, run, resume=True, max_steps=20, learning_rate=float("inf"))
    assert [p.name for p in checkpoint.list_checkpoints(run / "checkpoints")] == ["step_00000002"]
    checkpoint.verify(run / "checkpoints" / "step_00000002")


def test_same_seed_same_checkpoint(tmp_path):
    images = write_rolls(tmp_path / "imgs", 16)
    a = train(images, tmp_path / "a", preset="tiny", max_steps=3, checkpoint_every=3)
    b = train(images, tmp_path / "b", preset="tiny", max_steps=3, checkpoint_every=3)
    assert (a / "state.npz").read_bytes() == (b / "state.npz").read_bytes()


def test_sigkill_at_random_moments_then_resume(tmp_path):
    """Three kill -9s at random moments: each resume loses at most one interval, and the end matches no kills."""
    images = write_rolls(tmp_path / "imgs", 24)
    interval, total = 2, 40
    run = tmp_path / "run"
    command = [sys.executable, str(REPO / "pipeline.py"), "train", "--preset", "tiny", "--images", str(images),
               "--run-dir", str(run), "--max-steps", str(total), "--checkpoint-every", str(interval)]
    rng = random.Random(7)
    for attempt in range(3):
        log = tmp_path / f"attempt{attempt}.log"
        with open(log, "w") as out:
            process = subprocess.Popen(command + (["--resume"] if attempt else []), stdout=out, stderr=out,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True)
            deadline = time.monotonic() + 120
            while "step" not in log.read_text() or not re.search(r"\b\d+/40\b", log.read_text()):
                assert process.poll() is None, log.read_text()[-2000:]
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(rng.uniform(0.2, 1.5))
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        shown = max(int(n) for n in re.findall(r"\b(\d+)/40\b", log.read_text()))
        assert shown < total, "the run finished before it was killed; lower the sleep"
        kept = checkpoint.newest_valid(run / "checkpoints", "test")
        kept_step = int(kept.name.removeprefix("step_")) if kept else 0
        assert shown - kept_step <= interval, (shown, kept_step)
    finished = subprocess.run(command + ["--resume"], capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert f"stopped at step {total}" in finished.stdout

    straight = train(images, tmp_path / "straight", preset="tiny", max_steps=total, checkpoint_every=interval)
    with np.load(straight / "state.npz") as a, np.load(run / "checkpoints" / f"step_{total:08d}" / "state.npz") as b:
        for name in a.files:
            if name != "loop_state":
                np.testing.assert_allclose(a[name], b[name], rtol=1e-5, atol=1e-6, err_msg=name)


def test_full_disk_gives_a_clear_error_and_leaves_no_partial_checkpoint(tmp_path, monkeypatch):
    images = write_rolls(tmp_path / "imgs", 16)
    run = tmp_path / "run"
    train(images, run, preset="tiny", max_steps=2, checkpoint_every=2)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.np, "savez", disk_full)
    with pytest.raises(SystemExit, match="no space left on the device.*--resume"):
        train(images, run, resume=True, max_steps=4)
    leftovers = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert leftovers == ["step_00000002"]
    checkpoint.verify(run / "checkpoints" / "step_00000002")
