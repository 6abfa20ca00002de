"""Can a texture generator give an era by texture alone? Draw each era's mix of textures, ask the era classifier.

    python bench/quality/era_textures.py [--model pretrained/generator.keras] [--count 256]

For each era, the texture classes of its training rolls (as the generator's own cuts name them)
are counted; rolls are drawn in that mix and labelled by the era classifier that
`evaluate --by-style` trains (the same rolls, features and seed). Issue 15 asks each era to be
given at least 0.5. Beside it: the same for rolls drawn in all of MAESTRO's mix, and the
classifier's share per era on the real test rolls (its ceiling).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from midi2img.styles import ERAS, piece_of  # noqa: E402
from model import styletest, texture, twosample  # noqa: E402
from model.checkpoint import load_generator  # noqa: E402
from model.data import read_rolls, sample_paths  # noqa: E402
from model.evaluate import STYLE_TRAINING_ROLLS, era_indices  # noqa: E402
from model.generate import generate_rolls, latent_dim, latents, style_input  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("pretrained/generator.keras"))
    parser.add_argument("--train", type=Path, default=Path("data/images/train"))
    parser.add_argument("--real", type=Path, default=Path("data/images/test"))
    parser.add_argument("--count", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    generator = load_generator(args.model, "era_textures")
    layer = style_input(generator)
    if texture.texture_layer(generator) is None:
        raise SystemExit(f"era_textures: {args.model} was not trained on texture classes")
    paths = sample_paths(args.train, STYLE_TRAINING_ROLLS, args.seed, "era_textures")
    eras = era_indices(args.train, paths)
    keep = eras >= 0
    kept = [p for p, k in zip(paths, keep, strict=True) if k]
    train_rolls = read_rolls(kept, "era_textures")
    training = twosample.prepare(train_rolls, [piece_of(p) for p in kept])
    classifier = styletest.train_era_classifier(styletest.features(training), eras[keep], args.seed)
    classes = texture.classes_of(generator, train_rolls).argmax(axis=1)
    real_paths = sample_paths(args.real, 512, args.seed, "era_textures")
    real_eras = era_indices(args.real, real_paths)
    real = twosample.prepare(read_rolls(real_paths, "era_textures"), [piece_of(p) for p in real_paths])
    real_given = classifier.predict(styletest.features(real))
    rng = np.random.default_rng(args.seed)
    dim = latent_dim(generator)

    def given(mix: np.ndarray, era: int) -> float:
        drawn = rng.choice(len(layer.names), size=args.count, p=mix)
        styles = np.eye(len(layer.names), dtype=np.float32)[drawn]
        z = latents([args.seed, 31, era], args.count, dim)
        rolls = np.concatenate([generate_rolls(generator, z[i:i + 32], styles[i:i + 32])
                                for i in range(0, args.count, 32)])
        prepared = twosample.prepare(rolls, twosample.own_groups("generated", len(rolls)))
        return float(np.mean(classifier.predict(styletest.features(prepared)) == era))

    everything = np.bincount(classes, minlength=len(layer.names)) / len(classes)
    print(f"{'era':>10}  real test rolls given it  drawn in its texture mix  drawn in MAESTRO's mix")
    for index, era in enumerate(ERAS):
        mine = classes[eras[keep] == index]
        mix = np.bincount(mine, minlength=len(layer.names)) / len(mine)
        ceiling = float(np.mean(real_given[real_eras == index] == index))
        print(f"{era:>10}  {ceiling:24.2f}  {given(mix, index):24.2f}  {given(everything, index):22.2f}", flush=True)


if __name__ == "__main__":
    main()
