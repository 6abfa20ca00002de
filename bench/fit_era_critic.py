"""Fit model/eracritic.py's critic to MAESTRO's train rolls and write model/era_critic.keras.

    python bench/fit_era_critic.py [--images data/images/train] [--epochs 40]

It learns from every train roll whose piece has an era in styles.csv, except the rolls that
`evaluate --by-style`'s judge learns from (so that the two never share a roll), and prints its
accuracy on pieces it did not learn from (5 folds grouped by piece, eras weighted evenly) beside
the judge's ceiling that `evaluate --by-style` prints.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from midi2img.styles import ERAS  # noqa: E402
from model import twosample  # noqa: E402
from model.data import list_images, sample_paths  # noqa: E402
from model.eracritic import CRITIC_PATH, fit_critic  # noqa: E402
from model.evaluate import STYLE_TRAINING_ROLLS, era_indices, read_real_set  # noqa: E402

FOLDS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=REPO / "data" / "images" / "train")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=CRITIC_PATH)
    args = parser.parse_args()
    judged = set(sample_paths(args.images, STYLE_TRAINING_ROLLS, 0, "fit_era_critic"))  # evaluate's default seed
    paths = [p for p in list_images(args.images, "fit_era_critic") if p not in judged]
    eras = era_indices(args.images, paths)
    paths, eras = [p for p, e in zip(paths, eras, strict=True) if e >= 0], eras[eras >= 0]
    _, prepared = read_real_set(paths, "fit_era_critic")
    x = prepared.musical
    print(f"{len(paths)} rolls of {len(set(prepared.groups))} pieces; per era: "
          + ", ".join(f"{era} {n}" for era, n in zip(ERAS, np.bincount(eras, minlength=len(ERAS)), strict=True)))

    scores = []
    for fold, (train, test) in enumerate(twosample.grouped_folds(eras, prepared.groups, FOLDS, seed=0)):
        critic = fit_critic(x[train], eras[train], seed=fold, epochs=args.epochs)
        predicted = critic.predict(x[test], verbose=0).argmax(axis=1)
        scores.append(balanced_accuracy_score(eras[test], predicted))
        print(f"fold {fold + 1}: balanced accuracy on unseen pieces {scores[-1]:.3f}", flush=True)
    print(f"critic on unseen pieces: {np.mean(scores):.3f} +- {np.std(scores):.3f} (four eras: chance 0.25)")

    critic = fit_critic(x, eras, seed=0, epochs=args.epochs)
    temporary = args.out.with_name(f".{args.out.stem}.tmp.keras")
    critic.save(temporary)
    os.replace(temporary, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
