"""Training throughput per Keras backend and model preset, on this machine, in one run.

    python bench/train_speed.py --images data/images/train [--steps 20] [--backends tensorflow,jax,torch]
    python bench/train_speed.py --presets default,seed2023 --backends tensorflow --steps 2

Each (backend, preset) trains in its own process from the same images for `--steps` steps after a
warm-up checkpoint (which absorbs compilation) and reports images per second from the run's log.csv,
without per-checkpoint validation scoring; the figures are printed side by side with their ratio
to the first.
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


def images_per_second(backend: str, preset: str, images: Path, steps: int) -> float:
    with tempfile.TemporaryDirectory() as run:
        command = [sys.executable, str(REPO / "pipeline.py"), "train", "--images", str(images), "--run-dir", run,
                   "--preset", preset, "--max-steps", str(2 * steps), "--checkpoint-every", str(steps),
                   "--patience", str(10 * steps), "--validation-rolls", "0"]
        subprocess.run(command, check=True, capture_output=True, env={**os.environ, "KERAS_BACKEND": backend})
        with open(Path(run) / "log.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return float(rows[-1]["images_per_second"])  # the second interval: compiled, warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=REPO / "data" / "images" / "train")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--presets", default="default")
    args = parser.parse_args()
    results = {f"{b} {p}": images_per_second(b, p, args.images, args.steps)
               for b in args.backends.split(",") for p in args.presets.split(",")}
    first = next(iter(results))
    for name, speed in results.items():
        print(f"{name:>24}: {speed:8.3f} images/s  ({speed / results[first]:.2f}x {first})")


if __name__ == "__main__":
    main()
