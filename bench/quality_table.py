"""Side-by-side quality table of several `evaluate` reports, as Markdown for the README.

    python bench/quality_table.py reports/seed2023 reports/default

Columns: the real test set (the reference every model is scored against), real validation
rolls (the ceiling) and each report's model; ✓ marks a statistic whose mean lies within one
real sd of the real mean.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.metrics import STATISTICS  # noqa: E402

SCORES = (("Frechet distance (lower is better)", "frechet_distance", "{:.1f}"),
          ("pitch-class histogram overlap", "pitch_class_overlap", "{:.3f}"),
          ("diversity, share of the real set's", "diversity_vs_real", "{:.0%}"),
          ("nearest training roll, mean Jaccard distance", "nearest_training_mean", "{:.3f}"))


def table(reports: list[Path]) -> str:
    loaded = [json.loads((r / "report.json").read_text()) for r in reports]
    columns = dict(list(loaded[0]["sets"].items())[:2])
    for report, summary in zip(reports, loaded, strict=True):
        columns[report.name] = list(summary["sets"].values())[2]
    lines = ["| | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for stat in STATISTICS:
        cells = []
        for scores in columns.values():
            s = scores["statistics"][stat]
            cells.append(f"{s['mean']:.2f} ± {s['sd']:.2f}" + (" ✓" if s["within_real_sd"] else " ✗"))
        lines.append(f"| {stat} | " + " | ".join(cells) + " |")
    for title, key, form in SCORES:
        lines.append(f"| {title} | " + " | ".join(form.format(s[key]) for s in columns.values()) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reports", type=Path, nargs="+", help="report folders written by `evaluate`")
    print(table(parser.parse_args().reports))


if __name__ == "__main__":
    main()
