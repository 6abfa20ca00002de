"""Whether a generator can draw a pianist's rolls at all, or draws them only in the wrong proportions.

`evaluate`'s feature classifier, 512 validation rolls against each set:
- `nearest GENERATOR`: the generator's nearest roll (model/invert.py, the latent that `continue` would use)
  to each of about 300 other validation rolls, beside as many of its own random draws. If its range
  held rolls a listener takes for piano, the nearest ones would score well below its random draws,
  and a latent prior fitted to inverted training rolls would be worth building.
- `mixture GENERATOR ...`: 512 rolls drawn evenly from several generators, in case each misses the
  pianist's rolls in another direction.

    PYTHONPATH=. python bench/quality/range/reach.py nearest pretrained/generator.keras
    PYTHONPATH=. python bench/quality/range/reach.py mixture pretrained/generator.keras runs/x/checkpoints/...
"""
import sys
import time
from pathlib import Path

import numpy as np

from model import texture, twosample
from model.checkpoint import load_generator
from model.data import read_rolls, sample_paths
from model.evaluate import generate_in_batches, read_real_set
from model.generate import generate_rolls
from model.invert import invert

JUDGED = 512
NEAREST_TARGETS = 300  # drawn apart from the judged rolls; those among them are dropped


def judged_rolls() -> tuple[twosample.PreparedSet, set[Path]]:
    paths = sample_paths(Path("data/images/validation"), JUDGED, 0, "reach")
    return read_real_set(paths, "reach")[1], set(paths)


def accuracy(real: twosample.PreparedSet, rolls: np.ndarray) -> str:
    drawn = twosample.prepare(rolls, twosample.own_groups("g", len(rolls)))
    score = twosample.boosted_accuracy(real.musical, real.groups, drawn.musical, drawn.groups)
    spread = np.median(drawn.musical.std(0) / np.maximum(real.musical.std(0), 1e-9))
    return f"features {score.mean:.3f} +- {score.sd:.3f}, median sd ratio {spread:.2f}"


def nearest(model: Path) -> None:
    generator = load_generator(model)
    real, judged = judged_rolls()
    paths = [p for p in sample_paths(Path("data/images/validation"), NEAREST_TARGETS, 7, "reach") if p not in judged]
    targets = read_rolls(paths, "reach")
    styles = texture.classes_of(generator, targets)
    start = time.time()
    found = invert(generator, targets, 0, styles)
    print(f"{len(targets)} rolls inverted in {time.time() - start:.0f} s; onset F1 of the nearest rolls: "
          f"median {np.median(found.onset_f1):.2f}")
    norms = np.percentile(np.linalg.norm(found.latent, axis=1), [10, 50, 90])
    typical = np.sqrt(found.latent.shape[1])
    print(f"their latents' norms (10/50/90%): {norms.round(2)}; a random latent's about {typical:.2f}")
    print("nearest rolls:", accuracy(real, generate_rolls(generator, found.latent, styles)))
    print("random draws: ", accuracy(real, generate_in_batches(generator, len(targets), 0)))


def mixture(models: list[Path]) -> None:
    real, _ = judged_rolls()
    share = JUDGED // len(models)
    rolls = np.concatenate([generate_in_batches(load_generator(m), share, i) for i, m in enumerate(models)])
    print(f"{len(models)} generator(s), {share} rolls each:", accuracy(real, rolls))


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("nearest", "mixture"):
        sys.exit(__doc__)
    if sys.argv[1] == "nearest":
        nearest(Path(sys.argv[2]))
    else:
        mixture([Path(a) for a in sys.argv[2:]])
