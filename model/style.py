"""Asking a style-conditioned generator for a style: `--style romantic`, `chopin`, `baroque:30,romantic:60`.

A request names an era (midi2img.styles.ERAS) or a class the generator learned (a composer, or
`other-<era>`; texture words for a texture generator). Each piece draws one class of the request,
in the training rolls' proportions, so that `--style romantic` gives Schubert, Chopin, Liszt... as
often as MAESTRO has them; an era asked of a texture generator draws the textures of that era's
training rolls, in their proportions. With no request a piece draws from all classes. A schedule
gives each request its seconds; a window that straddles a change takes both styles, in proportion
to its steps in each.
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


def gives_eras(generator: keras.Model) -> bool:
    """Whether an era can be asked for: classes of eras and composers, or textures with each era's mix of them."""
    layer = style_input(generator)
    return trained_on_eras(generator) or (layer is not None and bool(layer.era_mixes))


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
        if layer.era_mixes:
            lines.append(f"  eras       {', '.join(ERAS)}: the textures of the era's training rolls, in their "
                         "proportions (texture, not harmony)")
        return "\n".join(lines)
    lines = ["styles: an era or a composer, or a schedule such as baroque:30,romantic:60 (seconds each)"]
    for era in ERAS:
        classes = [name for name in layer.names if era_of_class(name) == era]
        lines.append(f"  {era:<10} ({ERA_NAMES[era]}): {', '.join(classes)}")
    return "\n".join(lines)


def style_choices(generator: keras.Model) -> list[str]:
    """Single words `--style` takes for this generator (eras, texture words, classes), for a form's suggestions;
    [] for one trained without styles."""
    layer = style_input(generator)
    if layer is None:
        return []
    eras = list(ERAS) if gives_eras(generator) else []
    if not trained_on_eras(generator):
        return eras + [word for words in texture.WORDS for word in words]
    return eras + [name for name in layer.names if not name.startswith("other-")]


def covers(request: str, name: str) -> bool:
    """Whether class `name` is what `request` asks: the class itself, its era, or texture words (model/texture.py)."""
    if texture.is_texture(name):
        return texture.matches(request, name)
    return request == name or era_of_class(name) == request


def request_weights(generator: keras.Model, request: str, stage: str) -> np.ndarray:
    """Per class of the generator, the weight a piece asked for `request` draws it by: the training share of
    each class the request covers (see `covers`), or an era's mix of textures; a clear exit otherwise."""
    layer = style_input(generator)
    if layer is None:
        raise SystemExit(f"{stage}: --style {request}: {style_help(generator)}")
    name = request.strip().lower()
    if name in ERAS and layer.era_mixes:
        return np.reshape(layer.era_mixes, (len(ERAS), len(layer.names)))[ERAS.index(name)]
    chosen = [i for i, c in enumerate(layer.names) if covers(name, c)]
    if not chosen:
        raise SystemExit(f"{stage}: --style {request}: no such style\n{style_help(generator)}")
    weights = np.zeros(len(layer.names))
    weights[chosen] = np.asarray(layer.shares, np.float64)[chosen] if layer.shares else 1.0
    if not weights.sum() > 0:  # none of them in the training rolls: evenly
        weights[chosen] = 1.0
    return weights


def draw_classes(weights, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` class indices, each drawn in proportion to its weight (say, its share of the training rolls;
    evenly where no class has any)."""
    weights = np.asarray(weights, np.float64)
    if not weights.sum() > 0:
        weights = np.ones(len(weights))
    return rng.choice(len(weights), count, p=weights / weights.sum())


def one_hot_styles(weights, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, len(weights)) one-hot style weights, each roll one class drawn as draw_classes draws it."""
    return np.eye(len(weights), dtype=np.float32)[draw_classes(weights, count, rng)]


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
            request_weights(generator, request, stage)  # says why not
        return None
    schedule = parse_schedule(request, stage) if request else [("", None)]
    shares = np.asarray(layer.shares, np.float64)
    rng = np.random.default_rng([seed, 20])
    plan = np.zeros((count, steps, len(layer.names)), np.float32)
    for name, begin, end in schedule_spans(schedule, steps, seconds_per_step):
        weights = request_weights(generator, name, stage) if name else shares
        for piece in range(count):
            plan[piece, begin:end, draw_classes(weights, 1, rng)[0]] = 1.0
    return plan


def schedule_spans(schedule: list[tuple[str, float | None]], steps: int,
                   seconds_per_step: float) -> list[tuple[str, int, int]]:
    """(style, first step, end step) of each part of a parsed schedule over a piece of `steps`; the last part
    holds to the piece's end (parts past it are empty)."""
    spans, begin = [], 0
    for index, (name, seconds) in enumerate(schedule):
        last = index == len(schedule) - 1
        end = steps if last or seconds is None else min(steps, begin + round(seconds / seconds_per_step))
        spans.append((name, begin, end))
        begin = end
    return spans


def scheduled_eras(request: str | None, steps: int, seconds_per_step: float) -> np.ndarray | None:
    """(steps,) the index (midi2img.styles.ERAS) of the era each step is asked for, where `request` names
    only eras (one, or a schedule of them); None otherwise."""
    if not request:
        return None
    schedule = parse_schedule(request, "sample")
    if any(name.strip().lower() not in ERAS for name, _ in schedule):
        return None
    eras = np.zeros(steps, np.int64)
    for name, begin, end in schedule_spans(schedule, steps, seconds_per_step):
        eras[begin:end] = ERAS.index(name.strip().lower())
    return eras
