"""The evaluate stage: how close a generator's music is to real music, as numbers, a table and a plot.

    python pipeline.py evaluate [--model pretrained/generator.keras] [--n 512]

Generated rolls are compared with held-out real rolls (the MAESTRO test split);
real validation rolls are scored against the same test rolls the same way, which
is the best any model can do. The report leads with the two-sample tests
(model/twosample.py): how well classifiers tell each set from the real rolls, for the
ceiling, two baselines (random notes, shuffled blocks) and the model; per-statistic
checks can pass a generator that a classifier spots at a glance, so they come second.
Writes reports/<name>/report.md, report.json and distributions.png, and prints the report.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from tqdm import tqdm

from img2midi.core import roll_to_notes
from midi2img.atomic import atomic_path
from midi2img.spec import pitch_class_histogram
from midi2img.styles import ERAS, piece_of, styles_of
from model import metrics, styletest, twosample
from model.checkpoint import drawn_dynamics, load_generator
from model.data import read_rolls, sample_paths, sample_rolls
from model.eracritic import load_critic
from model.generate import generate_rolls, latent_dim, latents, style_input
from model.options import DRAFTS
from model.style import gives_eras, one_hot_styles

GENERATE_BATCH = 32  # the seed2023 generator holds ~70 MB of activations per roll
CLASSIFIERS = {  # two-sample classifiers: report key -> what the table calls it
    "features": "musical features (gradient boosting)",
    "cnn": "notes (CNN)",
    "dynamics": "dynamics alone (gradient boosting)",
}
CEILING, RANDOM_NOTES, SHUFFLED_BLOCKS = "real (validation)", "random notes", "shuffled blocks"


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
    return sum(pitch_class_histogram(roll_to_notes(r)) for r in rolls)


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


def two_sample_tests(real: twosample.PreparedSet, reference: twosample.PreparedSet,
                     generated: twosample.PreparedSet, name: str, seed: int, folds: int,
                     cnn: twosample.CnnSettings) -> dict:
    """Every set against the real rolls with each classifier: the ceiling, both baselines, the model.

    Returns {"sets": {label: {classifier: FoldScores}}, "seconds": {...}}, or {"skipped": reason}
    when the real rolls come from fewer pieces than there are folds.
    """
    started = time.perf_counter()
    sets = {CEILING: reference}
    count = len(generated.rolls)
    sets[RANDOM_NOTES] = twosample.prepare(twosample.random_note_rolls(real, count, seed),
                                           twosample.own_groups("random", count))
    sets[SHUFFLED_BLOCKS] = twosample.prepare(twosample.shuffled_block_rolls(real, seed), real.groups)
    sets[name] = generated
    timings = {"preparing": time.perf_counter() - started}
    scores: dict[str, dict[str, twosample.FoldScores]] = {}
    try:
        with tqdm(total=len(sets) * len(CLASSIFIERS) * folds, desc="evaluate: two-sample tests", unit="fold",
                  leave=False) as bar:
            for label, other in sets.items():
                bar.set_postfix_str(label)
                scores[label] = twosample.set_accuracies(real, other, folds, seed, cnn, bar.update, timings)
    except ValueError as error:  # too few pieces for grouped folds
        return {"skipped": str(error)}
    timings["total"] = time.perf_counter() - started
    return {"sets": scores, "seconds": timings}


def generate_in_batches(generator, count: int, seed: int) -> np.ndarray:
    """`count` rolls as `sample` draws them: a style-conditioned generator's each of one style class, drawn
    in the training rolls' proportions (not every roll at the classes' average, which no piece is)."""
    z = latents([seed, 5], count, latent_dim(generator))
    layer = style_input(generator)
    styles = None if layer is None else one_hot_styles(layer.shares, count, np.random.default_rng([seed, 23]))
    batches = range(0, count, GENERATE_BATCH)
    return np.concatenate([
        generate_rolls(generator, z[i:i + GENERATE_BATCH], None if styles is None else styles[i:i + GENERATE_BATCH])
        for i in tqdm(batches, desc="evaluate: generating", unit="batch", leave=False)])


def evaluate(model: Path, n: int = 512, real: Path = Path("data/images/test"),
             reference: Path = Path("data/images/validation"), train_images: Path = Path("data/images/train"),
             name: str | None = None, reports: Path = Path("reports"), seed: int = 0, folds: int = 5,
             cnn: twosample.CnnSettings = twosample.DEFAULT_CNN, by_style: bool = False,
             dynamics: str = "played") -> Path:
    """Score a generator; returns the report folder. `folds` and `cnn` set the two-sample tests;
    `by_style` adds, for a style-conditioned generator, how well it gives each era asked for;
    `dynamics` scores its velocities as `sample --dynamics` plays them."""
    model = Path(model)
    if name is None:  # pretrained/generator.keras -> "pretrained", runs/x -> "x", mine.keras -> "mine"
        name = model.parent.name if model.is_file() and model.stem == "generator" else model.stem
    generator = load_generator(model, "evaluate")
    played = not drawn_dynamics(generator, dynamics, "evaluate")
    real_paths, reference_paths = sample_paths(real, n, seed, "evaluate"), sample_paths(reference, n, seed, "evaluate")
    real_rolls, real_prepared = read_real_set(real_paths, "evaluate")
    reference_rolls, reference_prepared = read_real_set(reference_paths, "evaluate")
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
    prepared = {"real (test)": real_prepared, "real (validation)": reference_prepared,
                name: twosample.prepare(generated, twosample.own_groups("generated", len(generated)),
                                        played=played)}
    tests = two_sample_tests(*prepared.values(), name, seed, folds, cnn)
    folder = reports / name
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarize(sets, real_scores, n)
    add_dynamics(summary, prepared)
    summary["two_sample"] = summarize_two_sample(tests, folds, cnn)
    text = render_markdown(name, model, summary, n, real, reference, train_images)
    if by_style:
        summary["by_style"] = style_section(generator, real, real_paths, prepared["real (test)"], train_images, n, seed)
        text += "\n" + "\n".join(render_by_style(summary["by_style"], n, real, train_images))
    with atomic_path(folder / "report.md") as tmp:
        tmp.write_text(text)
    with atomic_path(folder / "report.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    with atomic_path(folder / "distributions.png") as tmp:
        plot_distributions(sets, tmp)
    print(text)
    print(f"evaluate: wrote {folder / 'report.md'} and {folder / 'distributions.png'}")
    return folder


def read_real_set(paths: list[Path], stage: str) -> tuple[np.ndarray, twosample.PreparedSet]:
    """Real roll files as rolls and as the two-sample tests' set, grouped by the piece each window came from."""
    rolls = read_rolls(paths, stage)
    return rolls, twosample.prepare(rolls, [piece_of(path) for path in paths])


STYLE_TRAINING_ROLLS = 4000  # real train rolls the era classifier learns from (about a quarter of them)


def era_indices(folder: Path, paths: list[Path]) -> np.ndarray:
    """Each roll's era index (midi2img.styles.ERAS) by the styles.csv beside it; -1 where it has none."""
    eras = [era for _, era in styles_of(folder, paths, "evaluate: --by-style")]
    return np.array([ERAS.index(era) if era in ERAS else -1 for era in eras])


def era_judge(train_images: Path, seed: int, stage: str) -> tuple[HistGradientBoostingClassifier, int]:
    """(the era classifier `--by-style` judges with, how many train rolls with an era it learned from)."""
    paths = sample_paths(train_images, STYLE_TRAINING_ROLLS, seed, stage)
    train_eras = era_indices(train_images, paths)
    keep = train_eras >= 0
    _, training = read_real_set([p for p, k in zip(paths, keep, strict=True) if k], stage)
    return styletest.train_era_classifier(styletest.features(training), train_eras[keep], seed), int(keep.sum())


def labelled_rolls(real: Path, real_paths: list[Path], real_set: twosample.PreparedSet
                   ) -> tuple[twosample.PreparedSet, np.ndarray]:
    """(the real rolls whose piece has an era, their era indices)."""
    real_eras = era_indices(real, real_paths)
    labelled = np.flatnonzero(real_eras >= 0)
    return real_set.subset(labelled), real_eras[labelled]


def style_section(generator, real: Path, real_paths: list[Path], real_set: twosample.PreparedSet,
                  train_images: Path, n: int, seed: int) -> dict:
    """The era classifier's ceiling on real test rolls and, for a style-conditioned generator, its verdict per era."""
    classifier, training_rolls = era_judge(train_images, seed, "evaluate")
    real_labelled, real_eras = labelled_rolls(real, real_paths, real_set)
    accuracy, balanced = styletest.ceiling(classifier, real_labelled, real_eras)
    section = {"training_rolls": training_rolls, "real_rolls": len(real_eras), "ceiling": accuracy,
               "ceiling_balanced": balanced}
    if gives_eras(generator):
        critic = load_critic()
        section["eras"] = [asdict(score) for score in styletest.score_eras(
            generator, classifier, real_labelled, real_eras, n // 2, seed, critic, DRAFTS)]
    return section


def render_by_style(section: dict, n: int, real: Path, train_images: Path) -> list[str]:
    lines = ["## By style", "",
             f"An era classifier (gradient boosting over the musical and dynamics features, eras weighted evenly) "
             f"learned from {section['training_rolls']} rolls of `{train_images}`. On {section['real_rolls']} real "
             f"rolls of `{real}` it gives the right era at **{section['ceiling']:.2f}** (balanced "
             f"{section['ceiling_balanced']:.2f}; four eras, chance 0.25): the ceiling.", ""]
    if "eras" not in section:
        return lines + ["This generator was trained without eras, so it cannot be asked for one.", ""]
    drafts = section["eras"][0]["drafts"]
    lines += [f"Asked for each era ({n // 2} rolls each), the share the classifier gives that era, and the two-sample "
              "feature test against that era's real rolls (0.50: indistinguishable)"
              + (f"; each roll the era critic's choice of {drafts} drafts, as `sample --style ERA` chooses "
                 "(model/eracritic.py), and the first drafts alone beside:" if drafts > 1 else ":"), ""]
    if drafts > 1:
        lines += [f"| era | given the requested era (best of {drafts}) | two-sample accuracy | first draft: given "
                  "| first draft: two-sample |", "|---|---|---|---|---|"]
        lines += [f"| {s['era']} | {s['given']:.2f} | {s['two_sample']:.2f} | {s['given_first_draft']:.2f} | "
                  f"{s['two_sample_first_draft']:.2f} |" for s in section["eras"]]
    else:
        lines += ["| era | given the requested era | two-sample accuracy |", "|---|---|---|"]
        lines += [f"| {s['era']} | {s['given']:.2f} | {s['two_sample']:.2f} |" for s in section["eras"]]
    mean = np.mean([score["given"] for score in section["eras"]])
    return lines + ["", f"Mean over the eras: {mean:.2f} ({mean / section['ceiling']:.2f} of the ceiling).", ""]


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


# Within-roll dynamics, checked like the statistics: the mean over rolls within one real sd of the real mean.
DYNAMIC_STATISTICS = ("velocity_mean", "velocity_sd")


def add_dynamics(summary: dict, prepared: dict[str, twosample.PreparedSet]) -> None:
    """Each set's within-roll velocity level and spread, beside its statistics (the first set is the real one)."""
    columns = [twosample.DYNAMICS_FEATURES.index(stat) for stat in DYNAMIC_STATISTICS]
    real = next(iter(prepared.values())).dynamics[:, columns]
    real_mean, real_sd = real.mean(axis=0), real.std(axis=0)
    for label, prepared_set in prepared.items():
        values = prepared_set.dynamics[:, columns]
        for i, stat in enumerate(DYNAMIC_STATISTICS):
            mean = float(values[:, i].mean())
            summary["sets"][label]["statistics"][stat] = {
                "mean": mean, "sd": float(values[:, i].std()),
                "within_real_sd": bool(abs(mean - real_mean[i]) <= real_sd[i])}


def summarize_two_sample(tests: dict, folds: int, cnn: twosample.CnnSettings) -> dict:
    """The two-sample section of report.json: accuracies per set and classifier, settings, seconds."""
    if "skipped" in tests:
        return {"skipped": tests["skipped"]}
    return {
        "folds": folds,
        "classifiers": {
            "features": {"model": "HistGradientBoostingClassifier", **twosample.BOOSTING,
                         "inputs": list(twosample.MUSICAL_FEATURES)},
            "cnn": {"model": "CNN", **{k: list(v) if isinstance(v, tuple) else v for k, v in vars(cnn).items()},
                    "inputs": "sounding and onset channels of the 88 piano rows"},
            "dynamics": {"model": "HistGradientBoostingClassifier", **twosample.BOOSTING,
                         "inputs": list(twosample.DYNAMICS_FEATURES)},
        },
        "sets": {label: {key: {"mean": s.mean, "sd": s.sd, "folds": list(s.accuracies)} for key, s in by.items()}
                 for label, by in tests["sets"].items()},
        "seconds": {key: round(value, 1) for key, value in tests["seconds"].items()},
    }


def set_title(label: str, real: Path, reference: Path) -> str:
    """A set's name as a report shows it: the real sets by their folders (the keys stay "real (test)" and
    "real (validation)" whichever folders they are, so that reports compare)."""
    return {"real (test)": f"real ({Path(real).name})", CEILING: f"real ({Path(reference).name})"}.get(label, label)


def render_two_sample(section: dict, n: int, real: Path, reference: Path) -> list[str]:
    """The report's lead: a table of held-out accuracies, one row per set, one column per classifier."""
    lines = ["## Can a classifier tell these rolls from real ones?", ""]
    if "skipped" in section:
        return lines + [f"Two-sample tests skipped: {section['skipped']}.", ""]
    lines += [f"Held-out accuracy (balanced) of a classifier trained to tell each set of {n} rolls from {n} real "
              f"rolls of `{real}`, mean ± sd over {section['folds']} folds grouped by source piece (windows of one "
              "piece never on both sides of a split). 0.50: indistinguishable from real; 1.00: every roll gives "
              "itself away. Every roll is first decoded as `sample` plays it. Random notes have the real rolls' "
              "note counts, pitches, lengths and velocities at uniform onsets; shuffled blocks are the real rolls "
              "with their 1-s blocks in random order (real texture, no phrases). Dynamics (velocities) are scored "
              "apart: images made before velocities were kept have none.", "",
              "| set | " + " | ".join(CLASSIFIERS.values()) + " |", "|---|" + "---|" * len(CLASSIFIERS)]
    names = {CEILING: f"{set_title(CEILING, real, reference)}: the ceiling", RANDOM_NOTES: "random notes: baseline",
             SHUFFLED_BLOCKS: "shuffled 1-s blocks: baseline"}
    for label, by in section["sets"].items():
        cells = [f"{by[key]['mean']:.2f} ± {by[key]['sd']:.2f}" for key in CLASSIFIERS]
        lines.append(f"| {names.get(label, label)} | " + " | ".join(cells) + " |")
    seconds = section["seconds"]
    lines += ["", f"Two-sample tests: {seconds['total']:.0f} s (decoding, baselines and features "
              f"{seconds['preparing']:.0f} s, gradient boosting {seconds['features']:.0f} s, "
              f"CNN {seconds['cnn']:.0f} s, dynamics {seconds['dynamics']:.0f} s).", ""]
    return lines


def render_markdown(name: str, model: Path, summary: dict, n: int, real: Path, reference: Path,
                    train_images: Path) -> str:
    labels = list(summary["sets"])
    lines = [f"# Evaluation of `{name}`", "", *render_two_sample(summary["two_sample"], n, real, reference),
             "## Statistics and Frechet distance (secondary)", "",
             f"Model `{model}`; {n} generated rolls against {n} real rolls from `{real}`; "
             f"`{reference}` scored the same way as the ceiling; copying checked against every roll in "
             f"`{train_images}`. Statistics as mean ± sd over rolls; ✓ where the mean lies within one real sd "
             "of the real mean.", "",
             "| statistic | " + " | ".join(set_title(la, real, reference) for la in labels) + " |",
             "|---|" + "---|" * len(labels)]
    for stat in summary["sets"][labels[0]]["statistics"]:  # metrics.STATISTICS, then DYNAMIC_STATISTICS
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
