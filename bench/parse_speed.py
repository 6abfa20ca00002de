"""Parse speed of symusic, pretty_midi and music21 on the same MAESTRO files, plus the full midi2img wall time.

    python bench/parse_speed.py --midi-dir ../shared/data/maestro-v2.0.0 [--files 5] [--no-full]

Why: the original converter parsed with music21; this shows what switching to symusic buys.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _symusic(path: Path) -> None:
    import symusic

    symusic.Score(str(path))


def _pretty_midi(path: Path) -> None:
    import pretty_midi

    pretty_midi.PrettyMIDI(str(path))


def _music21(path: Path) -> None:
    from music21 import converter

    converter.parse(str(path))


PARSERS = {"symusic": _symusic, "pretty_midi": _pretty_midi, "music21": _music21}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--midi-dir", type=Path, default=Path("data/maestro-v2.0.0"))
    parser.add_argument("--files", type=int, default=5, help="how many files (the first N in sorted order)")
    parser.add_argument("--no-full", dest="full", action="store_false", help="skip the whole-dataset midi2img run")
    args = parser.parse_args()

    files = sorted(p for p in args.midi_dir.rglob("*") if p.suffix.lower() in (".mid", ".midi"))[: args.files]
    if not files:
        print(f"parse_speed: no MIDI files under {args.midi_dir}", file=sys.stderr)
        return 1
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"{len(files)} files, {size_mb:.2f} MB in all")
    per_file: dict[str, float] = {}
    for name, parse in PARSERS.items():
        parse(files[0])  # warm-up: imports and caches are not parse time
        began = time.perf_counter()
        for path in files:
            parse(path)
        per_file[name] = (time.perf_counter() - began) / len(files)
    base = per_file["symusic"]
    for name, seconds in per_file.items():
        print(f"{name:12s} {seconds:9.4f} s/file   {seconds / base:8.1f}x symusic")

    if args.full:
        with tempfile.TemporaryDirectory(prefix="pianola-bench-") as out:
            began = time.perf_counter()
            run = subprocess.run([sys.executable, str(REPO / "pipeline.py"), "midi2img", "--midi-dir",
                                  str(args.midi_dir), "--out-dir", out], capture_output=True, text=True)
            wall = time.perf_counter() - began
        print(run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr.strip()[-500:])
        print(f"full midi2img wall time: {wall:.1f} s (exit {run.returncode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
