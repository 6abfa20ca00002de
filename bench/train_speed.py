"""Training throughput: the old trainer against the new one, side by side in one run, on this machine.

    python bench/train_speed.py [--images data/images/train] [--steps 40] [--rounds 2]
    python bench/train_speed.py --backends tensorflow,jax   # the new default on several backends

Each line trains in its own process from the same images for `--steps` steps after a warm-up
interval of as many steps (which absorbs compilation) and reads images per second from the run's
log.csv, without per-checkpoint validation scoring. The lines:

- `989073d trainer, 989073d model`: commit 989073d's own code (a git worktree of it), its default
  settings: three `train_on_batch` calls and a Python weight-average loop per step;
- `new trainer, 989073d model`: this tree's compiled step on the same model settings (106 rows,
  velocity-free snapping), in float32 and in mixed bfloat16;
- `new default`: this tree's default settings, which take mixed bfloat16 only where the machine
  has it natively (a GPU, or a CPU with AVX-512 BF16 or AMX), and beside it the same with
  bfloat16 insisted on.

The rounds alternate the lines, so a machine that is busier at one moment slows all of them alike;
each line reports its best round. Ratios are against the first line.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE = "989073d"
# 989073d's default model, spelled in this tree's settings (each one this tree added, set as it was then).
BASELINE_MODEL = ["piano_rows_only=false", "base_shape=[7,19]", "onset_velocity=false"]


def images_per_second(code: Path, images: Path, steps: int, backend: str, settings: list[str]) -> float:
    with tempfile.TemporaryDirectory() as run:
        command = [sys.executable, str(code / "pipeline.py"), "train", "--images", str(images), "--run-dir", run,
                   "--max-steps", str(2 * steps), "--checkpoint-every", str(steps), "--patience", str(10 * steps),
                   "--validation-rolls", "0"]
        for setting in settings:
            command += ["--set", setting]
        done = subprocess.run(command, capture_output=True, text=True, cwd=code,
                              env={**os.environ, "KERAS_BACKEND": backend})
        if done.returncode:
            raise SystemExit(f"train_speed: {' '.join(command)} failed:\n{done.stderr[-2000:]}")
        with open(Path(run) / "log.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return float(rows[-1]["images_per_second"])  # the second interval: compiled, warm


def baseline_tree(folder: Path) -> Path:
    """A checkout of the baseline commit, beside the venv of this tree."""
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), BASELINE], check=True,
                   capture_output=True)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=REPO / "data" / "images" / "train")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--backends", default="tensorflow", help="backends for the new default's line(s)")
    args = parser.parse_args()
    images = args.images.resolve()
    with tempfile.TemporaryDirectory() as scratch:
        old = baseline_tree(Path(scratch) / "baseline")
        try:
            lines = {
                f"{BASELINE} trainer, {BASELINE} model": (old, "tensorflow", []),
                f"new trainer, {BASELINE} model, float32": (REPO, "tensorflow",
                                                            [*BASELINE_MODEL, "mixed_precision=false"]),
                f"new trainer, {BASELINE} model, bfloat16": (REPO, "tensorflow",
                                                             [*BASELINE_MODEL, "mixed_precision=true"]),
                **{f"new default ({backend})": (REPO, backend, []) for backend in args.backends.split(",")},
                # the default takes bfloat16 only where it is fast (model/train.py, built_settings)
                "new default, bfloat16 insisted": (REPO, "tensorflow", ["mixed_precision=true"]),
            }
            best = {name: 0.0 for name in lines}
            for round_ in range(args.rounds):
                for name, (code, backend, settings) in lines.items():
                    speed = images_per_second(code, images, args.steps, backend, settings)
                    print(f"round {round_ + 1}: {name}: {speed:.2f} images/s", flush=True)
                    best[name] = max(best[name], speed)
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], capture_output=True)
    first = next(iter(best))
    print(f"\nbatch 16, {args.steps} steps a round, best of {args.rounds} rounds, {os.cpu_count()} cores:")
    for name, speed in best.items():
        print(f"{name:>42}: {speed:8.2f} images/s  ({speed / best[first]:.2f}x)")


if __name__ == "__main__":
    main()
