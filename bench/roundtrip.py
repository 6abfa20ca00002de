"""Round trip over a MAESTRO split: MIDI -> PNG (real midi2img I/O) -> stitched roll -> roll_to_notes.

Compares decoded (pitch, onset step) pairs against the reference: the distinct
quantized (pitch, onset step) pairs of the original notes within 21..126, read
straight from symusic (no pedal, no note cutting), so the encoder's own note
handling is under test too. Prints precision, recall, F1 and counts.

Velocities: for each matched (pitch, onset step), the file's own velocity of the note
midi2img keeps there (read_midi_notes: the longest of notes that share the step) against
the decoded one; prints the largest and mean absolute error and the share within
VELOCITY_TOLERANCE. Exit status 0 when F1 >= 0.99 and every velocity is within it.

    python bench/roundtrip.py --midi-dir ../shared/data/maestro-v2.0.0 --split validation
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import symusic
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from img2midi import roll_to_notes  # noqa: E402
from midi2img.core import ticks_to_steps  # noqa: E402
from midi2img.io import convert_files, read_midi_notes, read_splits  # noqa: E402
from midi2img.spec import (  # noqa: E402
    HIGHEST_PITCH,
    LOWEST_PITCH,
    N_PITCHES,
    STEPS_PER_BEAT,
    VELOCITY_TOLERANCE,
    WINDOW_STEPS,
)


def reference_onsets(path: Path, steps_per_beat: int) -> tuple[set[tuple[int, int]], int]:
    """Distinct (pitch, onset step) of in-range non-drum notes, and how many notes collided onto one."""
    score = symusic.Score(str(path))
    pairs: list[np.ndarray] = []
    for track in score.tracks:
        if track.is_drum:
            continue
        n = track.notes.numpy()
        pitch = n["pitch"].astype(np.int64)
        keep = (pitch >= LOWEST_PITCH) & (pitch <= HIGHEST_PITCH)
        onset = ticks_to_steps(n["time"][keep], score.ticks_per_quarter, steps_per_beat)
        pairs.append(np.stack([pitch[keep], onset], axis=1))
    allpairs = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    distinct = {(int(p), int(s)) for p, s in allpairs}
    return distinct, len(allpairs) - len(distinct)


def kept_velocities(path: Path, steps_per_beat: int, sustain: bool) -> dict[tuple[int, int], int]:
    """(pitch, onset step) -> the original velocity of the note midi2img keeps there."""
    notes, _ = read_midi_notes(path, steps_per_beat, sustain)
    return {(int(p), int(s)): int(v) for p, s, _, v in notes}


def decoded_onsets(stem: str, image_dir: Path) -> dict[tuple[int, int], int]:
    """Stitch <stem>_<index>.png back at their window positions (zeros for skipped windows) and decode.

    Returns (pitch, onset step) -> decoded velocity.
    """
    images = {int(p.stem.rsplit("_", 1)[1]): p for p in image_dir.glob(f"{stem}_[0-9][0-9][0-9][0-9].png")}
    if not images:
        return {}
    roll = np.zeros((N_PITCHES, (max(images) + 1) * WINDOW_STEPS), dtype=np.uint8)
    for index, path in images.items():
        roll[:, index * WINDOW_STEPS:(index + 1) * WINDOW_STEPS] = np.asarray(Image.open(path))
    notes = roll_to_notes(roll)
    return {(int(p), int(s)): int(v) for p, s, _, v in notes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--midi-dir", type=Path, default=Path("data/maestro-v2.0.0"))
    parser.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    parser.add_argument("--steps-per-beat", type=int, default=STEPS_PER_BEAT)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-sustain", dest="sustain", action="store_false")
    args = parser.parse_args()

    splits = read_splits(args.midi_dir)
    files = sorted(args.midi_dir / name for name, split in splits.items() if split == args.split)
    if not files:
        print(f"roundtrip: no {args.split} files listed in a MAESTRO CSV under {args.midi_dir}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="pianola-roundtrip-") as tmp:
        image_dir = Path(tmp)
        summary = convert_files([(f, image_dir) for f in files], args.workers, args.steps_per_beat, args.sustain)
        true_pos = n_ref = n_dec = collisions = 0
        errors: list[np.ndarray] = []
        for path in files:
            ref, clash = reference_onsets(path, args.steps_per_beat)
            dec = decoded_onsets(path.stem, image_dir)
            matched = ref & dec.keys()
            true_pos += len(matched)
            n_ref += len(ref)
            n_dec += len(dec)
            collisions += clash
            kept = kept_velocities(path, args.steps_per_beat, args.sustain)
            errors.append(np.array([abs(dec[key] - kept[key]) for key in matched], dtype=np.int64))
    precision = true_pos / n_dec if n_dec else 0.0
    recall = true_pos / n_ref if n_ref else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"roundtrip {args.split}: {len(files)} files, {summary.images} images, {n_ref} reference onsets "
          f"({collisions} notes collided onto an existing (pitch, step)), {n_dec} decoded, {true_pos} matched")
    print(f"precision {precision:.6f}  recall {recall:.6f}  F1 {f1:.6f}")
    error = np.concatenate(errors) if errors else np.zeros(0, dtype=np.int64)
    within = float(np.mean(error <= VELOCITY_TOLERANCE)) if len(error) else 0.0
    print(f"velocity of {len(error)} matched notes: max abs error {error.max(initial=0)}, "
          f"mean abs error {error.mean() if len(error) else 0.0:.4f}, within +-{VELOCITY_TOLERANCE}: {within:.6f}")
    return 0 if f1 >= 0.99 and within == 1.0 and summary.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
