"""Starting from the user's music, measured on MAESTRO test pieces no model here was trained on.

    python bench/primer_bars.py [--pieces 10] [--midi-dir ../shared/data/maestro-v2.0.0]

Prints, for the first --pieces test-split files (sorted by name): inversion's onset F1 on their
first windows and its time per window; for `continue`, whether the piece's primer span is the
primer's notes exactly (onset F1) and whether its first 20 s of continuation are nearer its own
primer than the other primers, beside the same figure for what the composer wrote next (the
ceiling); for `sample --like`, whether variations differ and sit nearer the primer than random
samples; for `morph` of consecutive pairs, whether the first 20 s are nearer A
and the last 20 s nearer B. "Nearer" is a profile distance: 1 - correlation of the duration-weighted
pitch-class histograms, plus the difference of mean pitch in octaves.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pretty_midi

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from midi2img.io import read_midi_notes  # noqa: E402
from midi2img.spec import STEPS_PER_BEAT, pitch_class_histogram  # noqa: E402
from model import primer  # noqa: E402
from model.checkpoint import load_generator  # noqa: E402
from model.invert import onset_f1  # noqa: E402
from model.sample import sample  # noqa: E402

SPAN = 20.0  # seconds compared at each end


def notes_of(path: Path, bpm: float) -> np.ndarray:
    step = 60 / (bpm * STEPS_PER_BEAT)
    notes = pretty_midi.PrettyMIDI(str(path)).instruments[0].notes
    return np.array([[n.pitch, round(n.start / step), round(n.end / step), n.velocity] for n in notes]).reshape(-1, 4)


def span(notes: np.ndarray, begin: float, end: float, bpm: float) -> np.ndarray:
    step = 60 / (bpm * STEPS_PER_BEAT)
    return notes[(notes[:, 1] >= begin / step) & (notes[:, 1] < end / step)]


def distance(a: np.ndarray, b: np.ndarray) -> float:
    ha, hb = pitch_class_histogram(a, by_duration=True), pitch_class_histogram(b, by_duration=True)
    return float(1 - np.corrcoef(ha, hb)[0, 1] + abs(a[:, 0].mean() - b[:, 0].mean()) / 12)


def measure_inversion(generator, starts: list, _out: Path, _model: Path) -> None:
    began = time.perf_counter()
    found, _ = primer.invert_primers(generator, starts, 0)
    print(f"inversion of {len(starts)} first windows: onset F1 {found.onset_f1.mean():.3f} "
          f"(min {found.onset_f1.min():.3f}, max {found.onset_f1.max():.3f}), "
          f"{(time.perf_counter() - began) / len(starts):.1f} s a window")


def nearness(continuations: list, primers: list) -> tuple[int, int]:
    """(how many continuations are nearer their own primer than every other one, than the others' mean)."""
    nearest, nearer_than_mean = 0, 0
    for i, piece in enumerate(continuations):
        own = distance(piece, primers[i].notes)
        others = [distance(piece, p.notes) for j, p in enumerate(primers) if j != i]
        nearest += own < min(others)
        nearer_than_mean += own < np.mean(others)
    return nearest, nearer_than_mean


def measure_continue(generator, primers: list, out: Path, model: Path) -> None:
    exact, continuations, composed = [], [], []
    for i, first in enumerate(primers):
        (midi,) = sample(out / f"c{i}.mid", model, audio=False, duration=60, bpm=first.bpm,
                         generator=generator, source=primer.continuation(generator, first, 1, 0))
        notes = notes_of(midi, first.bpm)
        exact.append(onset_f1(notes[notes[:, 1] < first.steps], first.notes))
        seconds = first.steps * 60 / (first.bpm * STEPS_PER_BEAT)
        continuations.append(span(notes, seconds, seconds + SPAN, first.bpm))
        written, _ = read_midi_notes(first.path)  # read as the primer was
        composed.append(written[(written[:, 1] >= first.steps) & (written[:, 1] < first.steps * (1 + SPAN / seconds))])
    print(f"continue: primer span onset F1 {min(exact):.3f} (min over {len(primers)}); first {SPAN:g} s of "
          "continuation nearer its own primer than every other one, than the others' mean:")
    for name, pieces in (("generated", continuations), ("the piece's own next 20 s (the ceiling)", composed)):
        nearest, nearer_than_mean = nearness(pieces, primers)
        print(f"  {name}: {nearest} of {len(primers)}, {nearer_than_mean} of {len(primers)}")


def measure_like(generator, starts: list, out: Path, model: Path) -> None:
    differ, closer = [], []
    for i, first in enumerate(starts[:5]):
        midis = sample(out / f"v{i}.mid", model, audio=False, duration=SPAN, bpm=first.bpm, count=4, seed=i,
                       generator=generator, source=primer.likeness(generator, first, 4, 0.3, i))
        randoms = sample(out / f"r{i}.mid", model, audio=False, duration=SPAN, bpm=first.bpm, count=4,
                         seed=100 + i, generator=generator)
        differ.append(len({m.read_bytes() for m in midis}) == len(midis))
        near = np.mean([distance(notes_of(m, first.bpm), first.notes) for m in midis])
        far = np.mean([distance(notes_of(m, first.bpm), first.notes) for m in randoms])
        closer.append(near < far)
        print(f"  like {first.path.name[:40]}: variations {near:.3f}, random samples {far:.3f} from it")
    print(f"sample --like: variations all differ in {sum(differ)} of {len(differ)}; nearer than random "
          f"samples in {sum(closer)} of {len(closer)}")


def measure_morph(generator, starts: list, out: Path, model: Path) -> None:
    ends = []
    for i, a in enumerate(starts):
        b = starts[(i + 1) % len(starts)]
        (midi,) = sample(out / f"m{i}.mid", model, audio=False, duration=90, bpm=a.bpm,
                         generator=generator, source=primer.morph(generator, a, b, 1, 0))
        notes = notes_of(midi, a.bpm)
        early, late = span(notes, 0, SPAN, a.bpm), span(notes, 90 - SPAN - 1, 90, a.bpm)
        ends.append(distance(early, a.notes) < distance(early, b.notes)
                    and distance(late, b.notes) < distance(late, a.notes))
    print(f"morph: first {SPAN:g} s nearer A and last {SPAN:g} s nearer B in {sum(ends)} of {len(starts)} pairs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pieces", type=int, default=10)
    parser.add_argument("--midi-dir", type=Path, default=REPO.parent / "shared" / "data" / "maestro-v2.0.0")
    parser.add_argument("--model", type=Path, default=REPO / "pretrained" / "generator.keras")
    parser.add_argument("--parts", default="invert,continue,like,morph", help="which to measure, comma-separated")
    args = parser.parse_args()
    with open(next(args.midi_dir.glob("*.csv")), newline="") as handle:
        files = sorted(args.midi_dir / row["midi_filename"] for row in csv.DictReader(handle) if row["split"] == "test")
    files = files[:args.pieces]
    generator = load_generator(args.model)
    primers = [primer.read_primer(f, 30.0, None, "bench") for f in files]  # continue keeps 30 s as written
    starts = [primer.read_primer(f, None, None, "bench") for f in files]  # --like and morph match a first window
    parts = {"invert": (measure_inversion, starts), "continue": (measure_continue, primers),
             "like": (measure_like, starts), "morph": (measure_morph, starts)}
    with tempfile.TemporaryDirectory() as out:
        for name in args.parts.split(","):
            measure, inputs = parts[name]
            measure(generator, inputs, Path(out), args.model)


if __name__ == "__main__":
    main()
