"""Where one compiled training step's time goes: TensorFlow's profiler, summed by op type and by layer.

    python bench/step_profile.py                     # 989073d's model, as bench/train_speed.py trains it
    python bench/step_profile.py --default           # this tree's default model
    python bench/step_profile.py --set mixed_precision=false

CPU milliseconds an image, summed over every thread, for `--steps` steps after 10 of warm-up on
random rolls (the data pipeline is not in it); compare them with the wall figure printed beside.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import tensorflow as tf  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from bench.train_speed import BASELINE_MODEL  # noqa: E402
from midi2img.spec import MODEL_SHAPE  # noqa: E402
from model.config import TrainConfig, parse_settings  # noqa: E402
from model.dcgan import build_dcgan  # noqa: E402
from model.step import GanStep  # noqa: E402
from model.train import step_inputs  # noqa: E402

WRAPPERS = ("ExecutorState", "EagerLocalExecute", "KernelAndDeviceFunc")  # spans that hold the ops below


def op_times(logdir: Path) -> dict[str, float]:
    """Milliseconds per 'op name:op type' in the profile under `logdir`."""
    space = xplane_pb2.XSpace()
    space.ParseFromString(next(logdir.rglob("*.xplane.pb")).read_bytes())
    times: collections.Counter = collections.Counter()
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if ":" in name and not name.startswith(WRAPPERS):
                    times[name] += event.duration_ps / 1e9
    return times


def layer_of(op: str) -> str:
    """'gradient_tape/conv2d_4_1/convolution/...:Type' -> 'conv2d_4' (forward and gradient together)."""
    parts = op.split(":")[0].split("/")
    parts = parts[1:] if parts[0] == "gradient_tape" and len(parts) > 1 else parts
    return re.sub(r"_\d+$", "", parts[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--default", action="store_true", help="this tree's default model, not 989073d's")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    config = TrainConfig(**parse_settings(([] if args.default else BASELINE_MODEL) + args.set))
    gan = GanStep(build_dcgan(config), config)
    state = gan.state()
    real = np.random.default_rng(0).uniform(-1, 1, (config.batch_size, *MODEL_SHAPE)).astype(np.float32)

    def run(first: int, count: int) -> None:
        nonlocal state
        for step in range(first, first + count):
            state, out = gan.step(state, real, *step_inputs(config, step), step, None)
            float(out.g_loss)  # wait for the step

    run(0, 10)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        run(10, args.steps)
        tf.profiler.experimental.stop()
        wall = time.perf_counter() - started
        times = op_times(Path(logdir))
    per_image = 1 / (args.steps * config.batch_size)
    by_type, by_layer = collections.Counter(), collections.Counter()
    for op, ms in times.items():
        by_type[op.rsplit(":", 1)[1]] += ms
        by_layer[layer_of(op)] += ms
    print(f"{sum(times.values()) * per_image:.1f} CPU ms an image in ops; "
          f"{1000 * wall * per_image:.1f} wall ms an image while profiled")
    for title, table in (("by op type", by_type), ("by layer", by_layer)):
        print(f"\n{title}:")
        for name, ms in table.most_common(args.top):
            print(f"{ms * per_image:7.2f}  {name}")


if __name__ == "__main__":
    main()
