"""Give a texture generator saved before generators kept them the cuts and era mixes of its training rolls.

    python bench/quality/keep_cuts.py pretrained/generator.keras [--images data/images/train]

`continue`, `--like` and morph ask for a primer's own texture class by the cuts (model/texture.py:
classes_of); `--style baroque` draws Baroque's mix of textures. Both are measured from the training
images as `train --textures` measures them (model/train.py: texture_cuts, texture_era_mixes); the
weights are untouched: the same latents must draw the same rolls before and after, or nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from model import texture  # noqa: E402
from model.checkpoint import load_generator  # noqa: E402
from model.data import list_images  # noqa: E402
from model.evaluate import generate_in_batches  # noqa: E402
from model.generate import style_input  # noqa: E402
from model.train import texture_cuts, texture_era_mixes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path)
    parser.add_argument("--images", type=Path, default=REPO / "data" / "images" / "train")
    args = parser.parse_args()
    generator = load_generator(args.model, "keep_cuts")
    layer = texture.texture_layer(generator)
    if layer is None:
        raise SystemExit(f"keep_cuts: {args.model} was not trained with --textures")
    before = generate_in_batches(generator, 64, seed=0)
    paths = list_images(args.images)
    layer.cuts, layer.era_mixes = texture_cuts(paths), texture_era_mixes(paths, args.images)
    with tempfile.TemporaryDirectory(dir=args.model.parent) as folder:
        saved = Path(folder) / "generator.keras"
        generator.save(saved)
        again = load_generator(saved, "keep_cuts")
        kept = style_input(again)
        if (kept.cuts, kept.era_mixes) != (layer.cuts, layer.era_mixes) or not np.array_equal(
                generate_in_batches(again, 64, 0), before):
            raise SystemExit(f"keep_cuts: {args.model}: the saved copy draws other rolls; nothing written")
        os.replace(saved, args.model)
    print(f"keep_cuts: {args.model} keeps the cuts {layer.cuts} and {len(layer.era_mixes)} era mix shares")


if __name__ == "__main__":
    main()
