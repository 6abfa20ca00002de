"""Asking a style-conditioned generator for a style: `--style romantic`, `chopin`, `baroque:30,romantic:60`.

A request names an era (midi2img.styles.ERAS) or a class the generator learned (a composer, or
`other-<era>`). Each piece draws one class of the request, in the training rolls' proportions,
so that `--style romantic` gives Schubert, Chopin, Liszt... as often as MAESTRO has them; with no
request a piece draws from all classes. A schedule gives each request its seconds; a window
that straddles a change takes both styles, in proportion to its steps in each.
"""

from __future__ import annotations

import keras
import numpy as np

from midi2img.styles import ERA_NAMES, ERAS, era_of_class
from model import texture
from model.generate import style_input


def trained_on_eras(generator: keras.Model) -> bool:
    """Whether the generator's classes are eras and composers (train --styles), not textures (--textures)."""
    layer = style_input(generator)
    return layer is not None and not any(texture.is_texture(name) for name in layer.names)


def style_help(generator: keras.Model) -> str:
    """What `--style` can ask this generator for, in a few lines."""
    layer = style_input(generator)
    if layer is None:
        return "this generator was trained without styles (train --styles); it takes no --style"
    if not trained_on_eras(generator):
        lines = ["textures: a word for density, pitch span or loudness, or words joined by '+' (sparse+soft), "
                 "or a schedule such as sparse:30,busy:60 (seconds each)"]
        bounds = texture.word_bounds(layer.cuts) if layer.cuts else [", ".join(words) for words in texture.WORDS]
        for axis, words in zip(("density", "span", "loudness"), bounds, strict=True):
            lines.append(f"  {axis:<10} {words}")
        return "\n".join(lines)
    lines = ["styles: an era or a composer, or a schedule such as baroque:30,romantic:60 (seconds each)"]
    for era in ERAS:
        classes = [name for name in layer.names if era_of_class(name) == era]
        lines.append(f"  {era:<10} ({ERA_NAMES[era]}): {', '.join(classes)}")
    return "\n".join(lines)


def covers(request: str, name: str) -> bool:
    """Whether class `name` is what `request` asks: the class itself, its era, or texture words (model/texture.py)."""
    if texture.is_texture(name):
        return texture.matches(request, name)
    return request == name or era_of_class(name) == request


def request_classes(generator: keras.Model, request: str, stage: str) -> np.ndarray:
    """Indices of the generator's classes that `request` covers (see `covers`); a clear exit otherwise."""
    layer = style_input(generator)
    if layer is None:
        raise SystemExit(f"{stage}: --style {request}: {style_help(generator)}")
    name = request.strip().lower()
    chosen = [i for i, c in enumerate(layer.names) if covers(name, c)]
    if not chosen:
        raise SystemExit(f"{stage}: --style {request}: no such style\n{style_help(generator)}")
    return np.array(chosen)


def draw_classes(shares: np.ndarray, classes: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` of `classes`, each drawn in proportion to its share of the training rolls (evenly if none had any)."""
    weights = np.asarray(shares, np.float64)[classes]
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(classes), 1 / len(classes))
    return rng.choice(classes, count, p=weights)


def one_hot_styles(shares, classes: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, len(shares)) one-hot style weights, each roll one of `classes` drawn as draw_classes draws it."""
    return np.eye(len(shares), dtype=np.float32)[draw_classes(np.asarray(shares), classes, count, rng)]


def parse_schedule(text: str, stage: str) -> list[tuple[str, float | None]]:
    """'baroque:30,romantic:60' -> [('baroque', 30.0), ('romantic', 60.0)]; 'chopin' -> [('chopin', None)]."""
    parts = []
    for item in text.split(","):
        name, _, seconds = item.partition(":")
        if not name.strip():
            raise SystemExit(f"{stage}: --style {text}: an empty style name")
        try:
            length = float(seconds) if seconds else None
        except ValueError:
            raise SystemExit(f"{stage}: --style {text}: {seconds!r} is not a number of seconds") from None
        if length is not None and not length > 0:
            raise SystemExit(f"{stage}: --style {text}: each style needs a positive number of seconds")
        parts.append((name.strip(), length))
    if len(parts) > 1 and any(length is None for _, length in parts):
        raise SystemExit(f"{stage}: --style {text}: give every style of a schedule its seconds (style:seconds)")
    return parts


def plan_names(generator: keras.Model, plan: np.ndarray) -> str:
    """One piece's (steps, classes) plan in words: its classes in the order they play ('bach then chopin',
    'busy+wide+soft then sparse+narrow+soft')."""
    names = [texture.describe(name) if texture.is_texture(name) else name for name in style_input(generator).names]
    order = [int(c) for c in plan.argmax(axis=1)]
    return " then ".join(names[c] for i, c in enumerate(order) if i == 0 or c != order[i - 1])


def style_plan(generator: keras.Model, request: str | None, count: int, steps: int, seconds_per_step: float,
               seed: int, stage: str = "sample") -> np.ndarray | None:
    """(count, steps, classes) style weights of `count` pieces, step by step; None for a generator without styles.

    Each piece draws one class per scheduled style (the last holds to the piece's end), a pure
    function of the seed.
    """
    layer = style_input(generator)
    if layer is None:
        if request:
            request_classes(generator, request, stage)  # says why not
        return None
    schedule = parse_schedule(request, stage) if request else [("", None)]
    shares = np.asarray(layer.shares, np.float64)
    rng = np.random.default_rng([seed, 20])
    plan = np.zeros((count, steps, len(layer.names)), np.float32)
    begin = 0
    for index, (name, seconds) in enumerate(schedule):
        classes = request_classes(generator, name, stage) if name else np.arange(len(layer.names))
        last = index == len(schedule) - 1
        end = steps if last or seconds is None else min(steps, begin + round(seconds / seconds_per_step))
        for piece in range(count):
            plan[piece, begin:end, draw_classes(shares, classes, 1, rng)[0]] = 1.0
        begin = end
    return plan
