"""The two soundfonts side by side on the same generated piece: render time, size, stereo width, brightness.

    python bench/soundfonts.py [--seconds 60] [--repeats 3]

Why: `sample` renders with FluidR3 GM where the system has it (`make setup` installs it) and
falls back to pretty_midi's TimGM6mb; this shows what the larger soundfont costs and gives.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import welch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from img2midi.audio import BUNDLED_SOUNDFONT, SYSTEM_SOUNDFONTS, synthesize  # noqa: E402
from img2midi.core import decode_piece, notes_to_midi  # noqa: E402
from model.checkpoint import load_generator  # noqa: E402
from model.longform import generate_pieces  # noqa: E402

RATE = 44100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    roll = generate_pieces(load_generator(REPO / "pretrained" / "generator.keras"), 1, 1, round(args.seconds * 8),
                           False)[0]
    pm = notes_to_midi(decode_piece(roll, None, False, False), 120)
    fonts = [BUNDLED_SOUNDFONT] + [p for p in SYSTEM_SOUNDFONTS if p.is_file()][:1]
    print(f"{args.seconds:g} s piece, {len(pm.instruments[0].notes)} notes, {RATE} Hz stereo, best of {args.repeats}")
    print("| soundfont | size | render seconds | L/R correlation | energy above 5 kHz |")
    print("|---|---|---|---|---|")
    for font in fonts:
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            audio = synthesize(pm, font, RATE)
            times.append(time.perf_counter() - started)
        frequencies, power = welch(audio.mean(axis=1), RATE, nperseg=8192)
        print(f"| {font.name} | {font.stat().st_size / 1e6:.0f} MB | {min(times):.2f} | "
              f"{np.corrcoef(audio.T)[0, 1]:.2f} | {power[frequencies > 5000].sum() / power.sum():.2%} |")
    if len(fonts) == 1:
        print("FluidR3_GM.sf2 is not installed here (make setup installs it)")


if __name__ == "__main__":
    main()
