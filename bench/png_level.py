"""Time and size of PNG writing at several zlib levels on real rolls, to pick midi2img's PNG_COMPRESS_LEVEL.

    python bench/png_level.py --midi-dir ../shared/data/maestro-v2.0.0 [--files 20]
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from midi2img import notes_to_roll, read_midi_notes, roll_windows  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--midi-dir", type=Path, default=Path("data/maestro-v2.0.0"))
    parser.add_argument("--files", type=int, default=20)
    args = parser.parse_args()
    files = sorted(p for p in args.midi_dir.rglob("*") if p.suffix.lower() in (".mid", ".midi"))[: args.files]
    windows = []
    began = time.perf_counter()
    for path in files:
        notes, _ = read_midi_notes(path)
        windows += [w for _, w in roll_windows(notes_to_roll(notes, int(notes[:, 2].max())))]
    print(f"{len(files)} files -> {len(windows)} images; parse+rasterize {time.perf_counter() - began:.2f} s")
    for level in (0, 1, 3, 6, 9):
        began = time.perf_counter()
        size = 0
        for w in windows:
            buf = io.BytesIO()
            Image.fromarray(w, mode="L").save(buf, format="PNG", compress_level=level)
            size += buf.tell()
        ms = (time.perf_counter() - began) / len(windows) * 1e3
        print(f"compress_level {level}: {ms:.3f} ms/image, {size / len(windows) / 1024:.1f} KiB/image")
    return 0


if __name__ == "__main__":
    sys.exit(main())
