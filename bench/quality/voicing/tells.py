"""How `evaluate`'s feature classifier adds up the tells: its accuracy with the best single-feature tells
taken out, and with each feature shuffled within its own set (marginals only).

    PYTHONPATH=. python bench/quality/voicing/tells.py pretrained/generator.keras
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from midi2img.styles import piece_of
from model import twosample
from model.checkpoint import load_generator
from model.data import read_rolls, sample_paths
from model.evaluate import generate_in_batches

paths = sample_paths(Path("data/images/validation"), 512, 0, "tells")
real = twosample.prepare(read_rolls(paths, "tells"), [piece_of(p) for p in paths])
drawn = generate_in_batches(load_generator(Path(sys.argv[1])), 512, 0)
fake = twosample.prepare(drawn, twosample.own_groups("g", len(drawn)))
labels = np.r_[np.zeros(len(real.musical)), np.ones(len(fake.musical))]
aucs = np.array([roc_auc_score(labels, np.r_[real.musical[:, i], fake.musical[:, i]])
                 for i in range(real.musical.shape[1])])
aucs = np.maximum(aucs, 1 - aucs)
order = np.argsort(aucs)[::-1]
for removed in (0, 3, 6, 10, 15, 20, 30):
    keep = np.sort(order[removed:])
    acc = twosample.boosted_accuracy(real.musical[:, keep], real.groups, fake.musical[:, keep], fake.groups)
    print(f"best {removed:2d} tells removed (next AUC {aucs[order[removed]]:.2f}): {acc.mean:.3f} ± {acc.sd:.3f}")
rng = np.random.default_rng(0)


def shuffled(features: np.ndarray) -> np.ndarray:
    return np.column_stack([rng.permutation(column) for column in features.T])


for _ in range(2):
    acc = twosample.boosted_accuracy(shuffled(real.musical), real.groups, shuffled(fake.musical), fake.groups)
    print(f"each feature shuffled within its set (marginals only): {acc.mean:.3f} ± {acc.sd:.3f}")
