"""What D's profile and grid views can see: how well the features they read tell a generator from a pianist.

512 validation rolls against 512 of the generator's (as `evaluate` draws them), `evaluate`'s gradient
boosting over 5 grouped folds, on three feature sets: the two-sample test's 80 musical features (the judge),
roll_profile (the 55 features the matching terms fit and the profile view reads), and both. Then each
grid_and_thickness feature's ROC AUC on its own, with its mean and sd on each side.

    PYTHONPATH=. python bench/quality/profile/profile_tells.py pretrained/generator.keras
"""
import sys
from pathlib import Path

import numpy as np
from keras import ops
from sklearn.metrics import roc_auc_score

from model import twosample
from model.checkpoint import load_generator
from model.data import pixels_to_tanh, sample_paths
from model.dcgan import grid_and_thickness, roll_profile
from model.evaluate import generate_in_batches, read_real_set

ROLLS = 512
GRID_NAMES = ("grid 4", "grid 8", "grid 16", "thickest step", "excess over 12 keys")


def batched(function, rolls: np.ndarray, size: int = 64) -> np.ndarray:
    """function over uint8 rolls in batches, as the training step sees them (tanh levels)."""
    levels = pixels_to_tanh(rolls.astype(np.float32))[..., None]
    return np.concatenate([ops.convert_to_numpy(function(ops.convert_to_tensor(levels[i:i + size])))
                           for i in range(0, len(rolls), size)])


def main(model: Path) -> None:
    paths = sample_paths(Path("data/images/validation"), ROLLS, 0, "reach")
    real_rolls, real = read_real_set(paths, "profile")
    rolls = generate_in_batches(load_generator(model), ROLLS, 0)
    drawn = twosample.prepare(rolls, twosample.own_groups("g", len(rolls)))
    real_profile, profile = batched(roll_profile, np.asarray(real_rolls)), batched(roll_profile, rolls)
    for name, a, b in (("judge (80 musical features)", real.musical, drawn.musical),
                       (f"roll_profile ({profile.shape[1]})", real_profile, profile),
                       ("both", np.hstack([real.musical, real_profile]), np.hstack([drawn.musical, profile]))):
        score = twosample.boosted_accuracy(a, real.groups, b, drawn.groups)
        print(f"{name}: {score.mean:.3f} +- {score.sd:.3f}")
    real_grid, grid = batched(grid_and_thickness, np.asarray(real_rolls)), batched(grid_and_thickness, rolls)
    labels = np.r_[np.zeros(len(real_grid)), np.ones(len(grid))]
    for i, name in enumerate(GRID_NAMES):
        auc = roc_auc_score(labels, np.r_[real_grid[:, i], grid[:, i]])
        print(f"{name}: AUC {max(auc, 1 - auc):.3f}, real {real_grid[:, i].mean():.3f} +- {real_grid[:, i].std():.3f}, "
              f"generated {grid[:, i].mean():.3f} +- {grid[:, i].std():.3f}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
