"""Pieces longer than one image: a smooth path through latent space, windows joined by cross-fades.

A piece of any length is made of generated 300-step windows laid along it with
OVERLAP_STEPS of overlap. Window i is generated from a latent vector on a path
that moves by spherical interpolation from one random anchor to the next over
ANCHOR_WINDOWS windows, so neighbouring windows share register and texture. Where
two windows overlap, their pixel levels are cross-faded before decoding: a note
both windows hold carries on through the join (no gap, no re-attack), a note only
one of them has fades out or in, and onsets of both are not stacked (no pile).

A loop is circular throughout: the latent path returns to its first anchor, the
last window wraps around and cross-fades into the first, and decoding treats
the roll as a ring, so a note that sounds across the loop point is one note.
"""

from __future__ import annotations

import keras
import numpy as np

from midi2img.spec import N_PITCHES, WINDOW_STEPS
from model.generate import generate_rolls, latent_dim, latents

OVERLAP_STEPS = 32  # two 4/4 bars of sixteenths: long enough to cross-fade, short enough to keep each window's music
ANCHOR_WINDOWS = 3  # windows from one latent anchor to the next: neighbours are related, not repeats
# A generated window piles onsets into its last few steps (bench/quality/README.md, "the right edge"): a straight
# piece's last window runs this far past the piece's end, which cuts it there.
EDGE_STEPS = 8
BATCH = 16  # windows per generator call: an hour-long piece must not need gigabytes of activations at once


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation from a (t=0) to b (t=1): the direction turns at a constant rate, the length is linear.

    Unlike a straight line, it keeps the length a Gaussian latent has, so midpoints are not faint.
    """
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    norm_a, norm_b = np.linalg.norm(a64), np.linalg.norm(b64)
    unit_a, unit_b = a64 / norm_a, b64 / norm_b
    omega = np.arccos(np.clip(np.dot(unit_a, unit_b), -1.0, 1.0))
    if omega < 1e-6:  # (nearly) the same direction: a straight line is the same path
        direction = unit_a
    else:
        direction = (np.sin((1 - t) * omega) * unit_a + np.sin(t * omega) * unit_b) / np.sin(omega)
    return (direction * ((1 - t) * norm_a + t * norm_b)).astype(np.float32)


def anchor_count(n_windows: int, loop: bool) -> int:
    """How many random anchors a path over n_windows needs (a loop of more than one window needs two at least)."""
    if loop:
        return 1 if n_windows == 1 else max(2, round(n_windows / ANCHOR_WINDOWS))
    last = (n_windows - 1) / ANCHOR_WINDOWS
    return int(np.ceil(last)) + 1


def latent_path(anchors: np.ndarray, n_windows: int, loop: bool) -> np.ndarray:
    """(n_windows, dim) latents moving from anchor to anchor; a loop's path ends where it began.

    A straight path passes anchor k at window k * ANCHOR_WINDOWS; a loop spreads its
    anchors evenly around the ring of windows, and after the last anchor heads back to the first.
    """
    anchors = np.asarray(anchors, np.float32)
    count = len(anchors)
    path = []
    for i in range(n_windows):
        t = i * count / n_windows if loop else i / ANCHOR_WINDOWS
        k, frac = int(t), t - int(t)
        following = (k + 1) % count if loop else min(k + 1, count - 1)
        path.append(anchors[k] if frac == 0 else slerp(anchors[k], anchors[following], frac))
    return np.stack(path)


def window_starts(total_steps: int, loop: bool) -> np.ndarray:
    """First step of each window, evenly spread so that neighbours overlap by at least OVERLAP_STEPS.

    A straight piece starts its first window at 0 and ends its last EDGE_STEPS past total_steps; a
    loop's windows start around the ring, the last one running past the end into the first.
    """
    hop = WINDOW_STEPS - OVERLAP_STEPS
    if loop:
        n = max(1, -(-total_steps // hop))
        return np.array([round(i * total_steps / n) for i in range(n)], dtype=np.int64)
    covered = total_steps + EDGE_STEPS
    if covered <= WINDOW_STEPS:
        return np.zeros(1, dtype=np.int64)
    n = -(-(covered - OVERLAP_STEPS) // hop)
    return np.array([round(i * (covered - WINDOW_STEPS) / (n - 1)) for i in range(n)], dtype=np.int64)


def crossfade_weights(width: int = WINDOW_STEPS, overlap: int = OVERLAP_STEPS) -> np.ndarray:
    """Per-column weight of a window: ramps up over its first `overlap` columns, down over its last, never 0."""
    j = np.arange(width)
    return np.minimum(1.0, np.minimum(j + 1, width - j) / (overlap + 1))


def join_windows(rolls: np.ndarray, starts: np.ndarray, total_steps: int, loop: bool) -> np.ndarray:
    """Lay (n, 106, W) rolls at their starts and cross-fade where they overlap -> a (106, total_steps) uint8 roll.

    Each column is the weighted mean of the windows covering it. A loop wraps columns past
    the end onto the start (a loop shorter than a window uses only OVERLAP_STEPS of it past
    its end, rather than averaging the window over itself); a straight piece cuts what runs past its end.
    """
    rolls = np.asarray(rolls, np.float64)
    if loop:
        rolls = rolls[:, :, :total_steps + OVERLAP_STEPS]
    width = rolls.shape[2]
    weights = crossfade_weights(width)
    total = np.zeros((N_PITCHES, total_steps))
    weight_sum = np.zeros(total_steps)
    for roll, start in zip(rolls, starts, strict=True):
        columns = start + np.arange(width)
        keep = slice(None) if loop else columns < total_steps
        columns = columns[keep] % total_steps
        np.add.at(total.T, columns, (roll[:, keep] * weights[keep]).T)
        np.add.at(weight_sum, columns, weights[keep])
    if np.any(weight_sum == 0):
        raise ValueError("windows leave columns of the piece uncovered")
    return np.clip(np.rint(total / weight_sum), 0, 255).astype(np.uint8)


def morph_anchors(a: np.ndarray, b: np.ndarray, total_steps: int) -> np.ndarray:
    """Anchors for a straight piece whose latent path runs from `a` at its start to `b` at its end."""
    n_windows = len(window_starts(total_steps, False))
    last = max(1.0, (n_windows - 1) / ANCHOR_WINDOWS)  # the path passes anchor k at window k * ANCHOR_WINDOWS
    return np.stack([slerp(a, b, min(1.0, k / last)) for k in range(anchor_count(n_windows, False))])


def piece_anchors(seed: int, count: int, per_piece: int, dim: int) -> np.ndarray:
    """(count, per_piece, dim): the random anchors of `count` pieces, one stream of latents(seed), piece after piece."""
    return latents(seed, count * per_piece, dim).reshape(count, per_piece, -1)


def window_styles(plan: np.ndarray, starts: np.ndarray, loop: bool) -> np.ndarray:
    """(count * windows, classes): each window's style, the mean over its steps of a (count, steps, classes) plan."""
    steps = plan.shape[1]
    columns = starts[:, None] + np.arange(WINDOW_STEPS)
    columns = columns % steps if loop else np.minimum(columns, steps - 1)
    return plan[:, columns].mean(axis=2).reshape(-1, plan.shape[2])


def generate_pieces(generator: keras.Model, seed: int, count: int, total_steps: int, loop: bool,
                    anchors: np.ndarray | None = None, styles: np.ndarray | None = None) -> np.ndarray:
    """(count, 106, total_steps) uint8 rolls, a pure function of the seed (and `anchors`, `styles`).

    Anchors come from one stream of latents(seed), piece after piece, so a one-window piece
    is exactly the roll that latents(seed, count, dim)[index] gives. `anchors` (count, k, dim),
    where given, take the place of each piece's first k (a primer's latent, a morph's path).
    `styles` (count, total_steps, classes), for a style-conditioned generator, says which style
    each step is in (model/style.py); without, its average style.
    """
    starts = window_starts(total_steps, loop)
    per_piece = anchor_count(len(starts), loop)
    path_anchors = piece_anchors(seed, count, per_piece, latent_dim(generator))
    if anchors is not None:
        given = min(per_piece, np.shape(anchors)[1])
        path_anchors[:, :given] = np.asarray(anchors, np.float32)[:, :given]
    z = np.concatenate([latent_path(a, len(starts), loop) for a in path_anchors])
    weights = None if styles is None else window_styles(np.asarray(styles, np.float32), starts, loop)
    windows = np.concatenate([generate_rolls(generator, z[i:i + BATCH], None if weights is None
                                             else weights[i:i + BATCH]) for i in range(0, len(z), BATCH)])
    windows = windows.reshape(count, len(starts), N_PITCHES, -1)
    return np.stack([join_windows(w, starts, total_steps, loop) for w in windows])


def splice(roll: np.ndarray, into: np.ndarray, at_end: bool) -> np.ndarray:
    """`roll` cross-faded over its last (at_end) or first OVERLAP_STEPS columns into `into`'s columns there.

    At the join `roll` has become exactly `into`'s own column: an intro that ends in the loop's
    last columns leads into the loop as the loop leads into itself, and an outro that begins with
    the loop's first columns follows the loop as its next round would.
    """
    roll = np.asarray(roll, np.float64).copy()
    width = min(OVERLAP_STEPS, roll.shape[1], into.shape[1])
    ramp = np.arange(1, width + 1) / width  # reaches 1 at the join
    if at_end:
        roll[:, -width:] = (1 - ramp) * roll[:, -width:] + ramp * into[:, -width:]
    else:
        roll[:, :width] = (1 - ramp[::-1]) * roll[:, :width] + ramp[::-1] * into[:, :width]
    return np.clip(np.rint(roll), 0, 255).astype(np.uint8)


def generate_ends(generator: keras.Model, seed: int, loops: np.ndarray, intro_steps: int,
                  outro_steps: int, styles: np.ndarray | None = None,
                  pieces: np.ndarray | None = None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(intros, outros) for the loops that generate_pieces(generator, seed, len(loops), ..., loop=True) made,
    or, where given, its pieces numbered `pieces` of a larger count (drafts, of which these were kept).

    Each intro's latent path runs from a fresh anchor towards its loop's first anchor, and each
    outro's from there towards another fresh anchor, so they share the loop's register and
    texture; they are then spliced into the loop's last and first columns (see splice).
    `styles` (count, classes): each loop's style, which its intro and outro keep.
    """
    count, dim = len(loops), latent_dim(generator)
    pieces = np.arange(count) if pieces is None else np.asarray(pieces)
    per_piece = anchor_count(len(window_starts(loops.shape[2], True)), True)
    firsts = piece_anchors(seed, int(pieces.max()) + 1, per_piece, dim)[pieces, 0]
    fresh = latents([seed, 8], 2 * count, dim).reshape(count, 2, -1)

    def along(a: np.ndarray, b: np.ndarray, steps: int, style: np.ndarray | None) -> np.ndarray:
        starts = window_starts(steps, False)
        path = np.stack([slerp(a, b, (i + 1) / (len(starts) + 1)) for i in range(len(starts))])
        weights = None if style is None else np.repeat(style[None], len(path), axis=0)
        return join_windows(generate_rolls(generator, path, weights), starts, steps, False)

    intros, outros = [], []
    for index, (loop, first, (before, after)) in enumerate(zip(loops, firsts, fresh, strict=True)):
        empty, style = np.zeros((N_PITCHES, 0), np.uint8), None if styles is None else styles[index]
        intros.append(splice(along(before, first, intro_steps, style), loop, at_end=True) if intro_steps else empty)
        outros.append(splice(along(first, after, outro_steps, style), loop, at_end=False) if outro_steps else empty)
    return intros, outros
