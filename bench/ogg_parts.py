"""How closely an intro-loop-outro OGG's three part files, joined, match the whole file.

    python bench/ogg_parts.py [--out /tmp/ogg-parts]

Why: Vorbis encodes each part apart, so the joined parts can only equal the whole within the
codec's noise; `sample` lays framed pieces on Vorbis's block grid (img2midi/audio.py,
VORBIS_GRID) so that the parts are coded as the whole codes them. Prints, per seed and length, the
residual of the joined parts against the whole (RMS and largest sample, dBFS) and LOOPSTART and
LOOPLENGTH against the intro's and the loop's lengths.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import soundfile
from mutagen.oggvorbis import OggVorbis

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from model.checkpoint import load_generator  # noqa: E402
from model.sample import PARTS, sample  # noqa: E402

SHIPPED = REPO / "pretrained" / "generator.keras"
# seed, then loop, intro and outro seconds
CASES = ((1, 60, 8, 6), (2, 60, 8, 6), (3, 45, 5, 4), (4, 30, 3, 7), (5, 90, 10, 6), (6, 20, 4, 4))


def dbfs(values: np.ndarray) -> float:
    return float(20 * np.log10(max(float(values), 1e-12)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/ogg-parts"))
    args = parser.parse_args()
    generator = load_generator(SHIPPED)
    print("| seed | loop, intro, outro (s) | LOOPSTART / intro | LOOPLENGTH / loop | residual RMS | largest |")
    print("|---|---|---|---|---|---|")
    for seed, seconds, intro, outro in CASES:
        track = args.out / f"s{seed}.ogg"
        sample(track, SHIPPED, seed=seed, duration=seconds, loop=True, intro=intro, outro=outro, generator=generator)
        whole, rate = soundfile.read(track)
        parts = [soundfile.read(track.with_name(f"{track.stem}_{part}.ogg"))[0] for part in PARTS]
        tags = OggVorbis(track)
        start, length = int(tags["LOOPSTART"][0]), int(tags["LOOPLENGTH"][0])
        difference = np.concatenate(parts) - whole
        print(f"| {seed} | {seconds}, {intro}, {outro} | {start / (intro * rate):.4f} "
              f"| {length / (seconds * rate):.5f} | {dbfs(np.sqrt(np.mean(difference ** 2))):.1f} dBFS "
              f"| {dbfs(np.abs(difference).max()):.1f} dBFS |")


if __name__ == "__main__":
    main()
