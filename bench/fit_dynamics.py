"""Fit img2midi.dynamics' model to MAESTRO's train rolls and write img2midi/dynamics.json.

    python bench/fit_dynamics.py [--images data/images/train] [--rolls 4000]

Then checks it as `evaluate` would: real validation rolls played by the model, and the shipped
generator's rolls played by it, each against real test rolls by the two-sample dynamics classifier
(0.5: alike), beside the within-roll velocity sd (real: its mean and sd).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from img2midi.core import roll_to_notes, struck_mask  # noqa: E402
from img2midi.dynamics import MODEL_PATH, fit  # noqa: E402
from midi2img.atomic import atomic_path  # noqa: E402
from midi2img.rollpng import read_roll_png  # noqa: E402
from model import twosample  # noqa: E402
from model.checkpoint import load_generator  # noqa: E402
from model.data import read_rolls, sample_paths  # noqa: E402
from model.evaluate import generate_in_batches, read_real_set  # noqa: E402

CHECK_ROLLS = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO / "data" / "images" / "train")
    parser.add_argument("--rolls", type=int, default=4000, help="rolls to fit on, spread evenly over the folder")
    args = parser.parse_args()
    paths = sorted(args.images.glob("*.png"))
    if not paths:
        raise SystemExit(f"fit_dynamics: {args.images}: no PNG rolls (run midi2img first)")
    chosen = paths[:: max(1, len(paths) // args.rolls)][: args.rolls]
    note_sets = []
    for path in chosen:
        roll = read_roll_png(path)
        notes = roll_to_notes(roll)
        note_sets.append(notes[struck_mask(roll, notes)])
    model = fit(note_sets)
    with atomic_path(MODEL_PATH) as tmp:
        tmp.write_text(json.dumps(asdict(model), indent=2) + "\n", encoding="utf-8")
    print(f"fit on {len(chosen)} rolls of {args.images}; wrote {MODEL_PATH}")

    images = args.images.parent
    test_paths = sample_paths(images / "test", CHECK_ROLLS, 0, "fit_dynamics")
    _, real = read_real_set(test_paths, "fit_dynamics")
    validation = read_rolls(sample_paths(images / "validation", CHECK_ROLLS, 0, "fit_dynamics"), "fit_dynamics")
    shipped = generate_in_batches(load_generator(REPO / "pretrained" / "generator.keras"), CHECK_ROLLS, 0)
    sd = twosample.DYNAMICS_FEATURES.index("velocity_sd")
    spread = real.dynamics[:, sd]
    print(f"real test rolls: within-roll velocity sd {spread.mean():.1f} +- {spread.std():.1f}")
    print("| rolls, velocities played by the model | dynamics two-sample accuracy | within-roll velocity sd |")
    print("|---|---|---|")
    for label, rolls in (("real validation rolls", validation), ("shipped generator", shipped)):
        played = twosample.prepare(rolls, twosample.own_groups(label, len(rolls)), played=True)
        accuracy = twosample.boosted_accuracy(real.dynamics, real.groups, played.dynamics, played.groups)
        print(f"| {label} | {accuracy.mean:.2f} +- {accuracy.sd:.2f} | {played.dynamics[:, sd].mean():.1f} |")


if __name__ == "__main__":
    main()
