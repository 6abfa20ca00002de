"""The evaluate stage: how close a generator's music is to real music, as numbers, a table and a plot.

    python pipeline.py evaluate [--model pretrained/generator.keras] [--n 512]

Generated rolls are compared with held-out real rolls (the MAESTRO test split);
real validation rolls are scored against the same test rolls the same way, which
is the best any model can do. Writes reports/<name>/report.md, report.json and
distributions.png, and prints the table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from img2midi.core import roll_to_notes
from midi2img.atomic import atomic_path
from model import metrics
from model.data import sample_rolls
from model.generate import generate_rolls, latents
from model.sample import load_generator

GENERATE_BATCH = 32  # the seed2023 generator holds ~70 MB of activations per roll


@dataclass
class SetScores:
    """One set of rolls scored against the real (test) set."""

    statistics: np.ndarray  # (n, len(STATISTICS))
    frechet_distance: float
    pitch_class_overlap: float
    diversity: float  # mean pairwise distance of standardized features
    nearest_training: np.ndarray  # (n,) Jaccard distance of each roll to its closest training roll


@dataclass
class RealSet:
    """What every set is scored against, computed once: the real rolls' features and pitch classes."""

    features: np.ndarray
    pitch_classes: np.ndarray


def pooled_pitch_classes(rolls: np.ndarray) -> np.ndarray:
    """Notes per pitch class over a whole set of rolls."""
    return sum(np.bincount(roll_to_notes(r)[:, 0] % 12, minlength=12) for r in rolls).astype(np.float64)


def score_set(rolls: np.ndarray, own: np.ndarray, real: RealSet, training: np.ndarray) -> SetScores:
    """Every set-level score of `rolls` (with feature matrix `own`) against the real set."""
    scale = metrics.Standardizer(real.features)
    return SetScores(
        statistics=metrics.statistics_of(own),
        frechet_distance=metrics.frechet_distance(real.features, own),
        pitch_class_overlap=metrics.histogram_overlap(real.pitch_classes, pooled_pitch_classes(rolls)),
        diversity=metrics.mean_pairwise_distance(scale(own)),
        nearest_training=metrics.nearest_jaccard_distance(rolls, training),
    )


def generate_in_batches(generator, count: int, seed: int) -> np.ndarray:
    z = latents([seed, 5], count, generator.input_shape[-1])
    batches = range(0, count, GENERATE_BATCH)
    return np.concatenate([generate_rolls(generator, z[i:i + GENERATE_BATCH])
                           for i in tqdm(batches, desc="evaluate: generating", unit="batch", leave=False)])


def evaluate(model: Path, n: int = 512, real: Path = Path("data/images/test"),
             reference: Path = Path("data/images/validation"), train_images: Path = Path("data/images/train"),
             name: str | None = None, reports: Path = Path("reports"), seed: int = 0) -> Path:
    """Score a generator; returns the report folder."""
    model = Path(model)
    if name is None:  # pretrained/generator.keras -> "pretrained", runs/x -> "x", mine.keras -> "mine"
        name = model.parent.name if model.is_file() and model.stem == "generator" else model.stem
    generator = load_generator(model, "evaluate")
    real_rolls = sample_rolls(real, n, seed, "evaluate")
    reference_rolls = sample_rolls(reference, n, seed, "evaluate")
    training = sample_rolls(train_images, None, stage="evaluate")  # all of them
    generated = generate_in_batches(generator, n, seed)
    real_features = metrics.features(real_rolls)
    real_set = RealSet(real_features, pooled_pitch_classes(real_rolls))
    real_scores = score_set(real_rolls, real_features, real_set, training)
    sets = {
        "real (test)": real_scores,
        "real (validation)": score_set(reference_rolls, metrics.features(reference_rolls), real_set, training),
        name: score_set(generated, metrics.features(generated), real_set, training),
    }
    folder = reports / name
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarize(sets, real_scores, n)
    text = render_markdown(name, model, summary, n, real, reference, train_images)
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(text)
    with atomic_path(folder / "report.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    with atomic_path(folder / "distributions.png") as tmp:
        plot_distributions(sets, tmp)
    print(text)
    print(f"evaluate: wrote {folder / 'report.md'} and {folder / 'distributions.png'}")
    return folder


def summarize(sets: dict[str, SetScores], real: SetScores, n: int) -> dict:
    """Everything the report says, as plain numbers (report.json)."""
    real_mean, real_sd = real.statistics.mean(axis=0), real.statistics.std(axis=0)
    summary: dict = {"n": n, "sets": {}}
    for label, scores in sets.items():
        mean, sd = scores.statistics.mean(axis=0), scores.statistics.std(axis=0)
        summary["sets"][label] = {
            "statistics": {stat: {"mean": float(mean[i]), "sd": float(sd[i]),
                                  "within_real_sd": bool(abs(mean[i] - real_mean[i]) <= real_sd[i])}
                           for i, stat in enumerate(metrics.STATISTICS)},
            "frechet_distance": scores.frechet_distance,
            "pitch_class_overlap": scores.pitch_class_overlap,
            "diversity": scores.diversity,
            "diversity_vs_real": scores.diversity / real.diversity,
            "nearest_training_mean": float(scores.nearest_training.mean()),
            "nearest_training_p05": float(np.percentile(scores.nearest_training, 5)),
        }
    return summary


def render_markdown(name: str, model: Path, summary: dict, n: int, real: Path, reference: Path,
                    train_images: Path) -> str:
    labels = list(summary["sets"])
    lines = [f"# Evaluation of `{name}`", "",
             f"Model `{model}`; {n} generated rolls against {n} real rolls from `{real}`; "
             f"`{reference}` scored the same way as the ceiling; copying checked against every roll in "
             f"`{train_images}`. Statistics as mean ± sd over rolls; ✓ where the mean lies within one real sd "
             "of the real mean.", "",
             "| statistic | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for stat in metrics.STATISTICS:
        cells = []
        for label in labels:
            s = summary["sets"][label]["statistics"][stat]
            cells.append(f"{s['mean']:.3f} ± {s['sd']:.3f}" + (" ✓" if s["within_real_sd"] else " ✗"))
        lines.append(f"| {stat} | " + " | ".join(cells) + " |")
    rows = [("Frechet distance (lower is better)", "frechet_distance", "{:.2f}"),
            ("pitch-class histogram overlap", "pitch_class_overlap", "{:.3f}"),
            ("diversity (mean pairwise feature distance)", "diversity", "{:.2f}"),
            ("diversity / real diversity", "diversity_vs_real", "{:.0%}"),
            ("nearest training roll, mean Jaccard distance", "nearest_training_mean", "{:.3f}"),
            ("nearest training roll, 5th percentile", "nearest_training_p05", "{:.3f}")]
    for title, key, form in rows:
        lines.append(f"| {title} | " + " | ".join(form.format(summary["sets"][la][key]) for la in labels) + " |")
    lines += ["", "![distributions](distributions.png)", ""]
    return "\n".join(lines)


def plot_distributions(sets: dict[str, SetScores], path: Path) -> None:
    """One panel per statistic (histograms of the sets overlaid) and one of pooled pitch classes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(3, 3, figsize=(13, 10))
    for i, stat in enumerate(metrics.STATISTICS):
        axis = axes.flat[i]
        values = np.concatenate([s.statistics[:, i] for s in sets.values()])
        bins = np.linspace(values.min(), values.max() + 1e-9, 30)
        for label, scores in sets.items():
            axis.hist(scores.statistics[:, i], bins=bins, histtype="step", density=True, label=label, linewidth=1.5)
        axis.set_title(stat.replace("_", " "))
    axis = axes.flat[8]
    axis.hist([s.nearest_training for s in sets.values()], bins=30, histtype="step", density=True,
              label=list(sets), linewidth=1.5)
    axis.set_title("Jaccard distance to nearest training roll")
    axes.flat[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=80)
    plt.close(figure)
