"""How `evaluate`'s feature classifier adds up the tells: its accuracy with the best single-feature tells
taken out, with each feature shuffled within its own set (marginals only), with each group of features
alone and taken out, and how widely each feature varies from roll to roll beside a pianist's.

    PYTHONPATH=. python bench/quality/voicing/tells.py pretrained/generator.keras
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from model import twosample
from model.checkpoint import load_generator
from model.data import sample_paths
from model.evaluate import generate_in_batches, read_real_set

paths = sample_paths(Path("data/images/validation"), 512, 0, "tells")
_, real = read_real_set(paths, "tells")
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


GROUPS = {
    "silence": ["silent_rate", "longest_silence_share", "band_0"],
    "rhythm": ["on_beat_share", "inter_onset_mean", "inter_onset_sd", "onset_step_share", "block_onsets_sd",
               "block_onsets_cv", "onsets_per_second", "onset_repetition"],
    "chords": ["chord_share", "onsets_per_onset_step", "polyphony", "polyphony_rate", "max_polyphony"],
    "lengths": ["note_length_sd", "log_length_mean", "log_length_sd", "mean_note_seconds"],
    "pitch classes, key": ["key_clarity", "scale_consistency", "pitch_class_entropy", "chroma_repetition"],
    "register": ["mean_pitch", "pitch_sd", "low_share", "high_share", "lowest_pitch", "highest_pitch",
                 "register_drift", "pitch_range"],
    "lines": ["top_line_step_share", "top_line_leap_share", "top_line_mean_interval", "bass_line_step_share",
              "bass_line_leap_share", "pitch_repetition"],
}
PREFIXES = {"lengths": "length_bin_", "pitch classes, key": ("pitch_class_", "interval_class_"), "register": "band_"}
names = twosample.MUSICAL_FEATURES
for group, members in GROUPS.items():
    inside = [i for i, name in enumerate(names)
              if name in members or (group in PREFIXES and name.startswith(PREFIXES[group]) and name != "band_0")]
    outside = [i for i in range(len(names)) if i not in inside]
    alone = twosample.boosted_accuracy(real.musical[:, inside], real.groups, fake.musical[:, inside], fake.groups)
    without = twosample.boosted_accuracy(real.musical[:, outside], real.groups, fake.musical[:, outside], fake.groups)
    print(f"{group} ({len(inside)} features): alone {alone.mean:.3f} ± {alone.sd:.3f}, "
          f"without {without.mean:.3f} ± {without.sd:.3f}")
spread = fake.musical.std(axis=0) / np.maximum(real.musical.std(axis=0), 1e-9)
narrowest = [i for i in np.argsort(spread) if real.musical[:, i].std() > 0][:8]  # features a pianist varies
print(f"spread (generated sd / real sd): median {np.median(spread):.2f}, below 0.8 for "
      f"{np.mean(spread < 0.8):.0%} of the features; narrowest: "
      + ", ".join(f"{names[i]} {spread[i]:.2f}" for i in narrowest))
