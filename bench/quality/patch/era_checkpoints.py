"""The era judge of `evaluate --by-style` on several generators, with fewer rolls an era, to screen checkpoints
for issue 15's bar (each era heard at least 0.5) before a full report:

    PYTHONPATH=. python bench/quality/patch/era_checkpoints.py 128 pretrained/generator.keras runs/X/.../generator.keras

Prints, per generator, the share of rolls asked for each era (each the era critic's choice of 32 drafts, as
`sample --style ERA` writes them) that the judge gives that era. The judge learns from the same 4,000 train
rolls as `evaluate --by-style` at seed 0; the test rolls only enter its two-sample figures, not printed here.
"""
import sys
from pathlib import Path

import numpy as np

from model import styletest
from model.checkpoint import load_generator
from model.data import sample_paths
from model.eracritic import load_critic
from model.evaluate import DRAFTS, era_judge, labelled_rolls, read_real_set

count = int(sys.argv[1])
judge, _ = era_judge(Path("data/images/train"), 0, "eras")
test = Path("data/images/test")
test_paths = sample_paths(test, 512, 0, "eras")
_, real = read_real_set(test_paths, "eras")
real_labelled, real_eras = labelled_rolls(test, test_paths, real)
critic = load_critic()
for model in sys.argv[2:]:
    generator = load_generator(Path(model))
    scores = styletest.score_eras(generator, judge, real_labelled, real_eras, count, 0, critic, DRAFTS)
    print(model, " ".join(f"{s.era} {s.given:.2f}" for s in scores),
          f"mean {np.mean([s.given for s in scores]):.2f}", flush=True)
