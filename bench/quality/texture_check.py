"""Does a texture-conditioned generator (`train --textures`) draw the texture it is asked for?

    python bench/quality/texture_check.py [--model pretrained/generator.keras] [--images data/images/train]

Asks for each of the 27 classes (32 rolls each) and prints how often the drawn window falls in the
third asked for, axis by axis (chance 0.33); then draws 512 rolls as `evaluate` and `sample` do
(classes in the training proportions) and compares each measure's spread over rolls with real test rolls'.
Last, as `continue` does (texture.classes_of), it asks for the class of each of 128 real test
windows and prints how often the drawn window shares the real one's third, beside asking for a
class drawn at random. The thirds are cut where `train --textures` cut them: at the training
images' own thirds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from midi2img.rollpng import read_roll_png  # noqa: E402
from model import texture  # noqa: E402
from model.checkpoint import load_generator  # noqa: E402
from model.data import list_images  # noqa: E402
from model.evaluate import generate_in_batches  # noqa: E402
from model.generate import generate_rolls, latent_dim, latents  # noqa: E402
from model.style import one_hot_styles  # noqa: E402

AXES = ("density (share)", "span (semitones)", "loudness (velocity)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "pretrained" / "generator.keras")
    parser.add_argument("--images", type=Path, default=REPO / "data" / "images" / "train")
    parser.add_argument("--real", type=Path, default=REPO / "data" / "images" / "test")
    args = parser.parse_args()
    generator = load_generator(args.model)
    layer = texture.texture_layer(generator)
    if layer is None:
        raise SystemExit(f"texture_check: {args.model} was not trained with --textures")
    cut = texture.cuts(texture.measure_files(list_images(args.images), "texture_check"))
    hits = []
    for index, name in enumerate(tqdm(layer.names, desc="classes", leave=False)):
        styles = one_hot_styles(np.eye(len(layer.names))[index], 32, np.random.default_rng(index))
        rolls = generate_rolls(generator, latents([7, index], 32, latent_dim(generator)), styles)
        drawn = np.array([texture.measure(r) for r in rolls])
        hits.append(texture.thirds(drawn, cut) == np.array(texture.class_thirds(name)))
    shares = np.concatenate(hits).mean(axis=0)
    print("asked for a class, the window drawn is in the third asked for (chance 0.33): "
          + ", ".join(f"{axis.split()[0]} {share:.2f}" for axis, share in zip(AXES, shares, strict=True)))
    generated = np.array([texture.measure(r) for r in generate_in_batches(generator, 512, seed=0)])
    real = texture.measure_files(list_images(args.real)[::4][:512], "texture_check")
    for axis, g, r in zip(AXES, generated.T, real.T, strict=True):
        print(f"{axis} over rolls: real {r.mean():.3f} +- {r.std():.3f}, generated {g.mean():.3f} +- {g.std():.3f}")
    primers = [read_roll_png(path) for path in list_images(args.real)[::16][:128]]
    wanted = texture.thirds(np.array([texture.measure(r) for r in primers]), cut)
    own = np.eye(len(layer.names), dtype=np.float32)[[texture.CLASSES.index(n) for n in texture.class_names(wanted)]]
    asks = {"the window's own class (continue)": own,
            "a class at random": one_hot_styles(layer.shares, len(primers), np.random.default_rng(8))}
    z = latents([7, 99], len(primers), latent_dim(generator))
    print(f"a window drawn for each of {len(primers)} real test windows is in the real one's third:")
    for label, styles in asks.items():
        drawn = texture.thirds(np.array([texture.measure(r) for r in generate_rolls(generator, z, styles)]), cut)
        print(f"  asking for {label}: " + ", ".join(
            f"{axis.split()[0]} {share:.2f}" for axis, share in zip(AXES, (drawn == wanted).mean(axis=0), strict=True)))


if __name__ == "__main__":
    main()
