"""Pictures of whole pieces for people: seconds on the time axis, note names, the loop point marked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from midi2img.atomic import atomic_path
from midi2img.core import notes_to_roll
from midi2img.spec import HIGHEST_PITCH, LOWEST_PITCH, NOTE_COLUMNS, pitch_to_row

DPI = 100
MIN_SPAN = 24  # pitches shown at least: two octaves, so a narrow piece is not drawn as fat bars


@dataclass(frozen=True)
class Piece:
    """What a picture of one piece needs."""

    title: str
    notes: np.ndarray  # (n, 4) pitch, start step, end step, velocity
    n_steps: int  # the piece's length; a loop's notes may ring past it into the next round
    seconds_per_step: float
    loop: tuple[int, int] | None  # the loop region's first step and the step after it (None: no loop)
    seconds: float = 0.0  # the track's length, when it runs on past the notes (the ring-out of a piece)


def draw_piece(ax: Axes, piece: Piece) -> None:
    """The piece's notes as a roll (onsets darker, the louder the darker), seconds below, C's named, the seam marked."""
    notes = np.asarray(piece.notes, np.int64).reshape(-1, len(NOTE_COLUMNS))
    end_step = max(piece.n_steps, int(notes[:, 2].max()) if len(notes) else 0)
    roll_seconds = end_step * piece.seconds_per_step
    seconds = max(roll_seconds, piece.seconds)
    low, high = (int(notes[:, 0].min()), int(notes[:, 0].max())) if len(notes) else (60, 72)
    widen = max(2, (MIN_SPAN - (high - low) + 1) // 2)  # a margin, and at least MIN_SPAN pitches in view
    low, high = max(LOWEST_PITCH, low - widen), min(HIGHEST_PITCH, high + widen)
    roll = notes_to_roll(notes, end_step)[pitch_to_row(high):pitch_to_row(low) + 1]
    ax.imshow(roll, cmap="gray_r", vmin=0, vmax=255, aspect="auto", origin="upper",
              interpolation="nearest" if end_step <= 2000 else "antialiased",
              extent=(0, roll_seconds, low - 0.5, high + 0.5))
    c_pitches = [p for p in range(low, high + 1) if p % 12 == 0]
    ax.set_yticks(c_pitches, [pretty_midi.note_number_to_name(p) for p in c_pitches])
    ax.grid(axis="y", color="0.85", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.set_xlim(0, seconds)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("pitch")
    ax.set_title(piece.title, fontsize=10, loc="left", pad=16 if piece.loop else 6)  # a loop's label goes under it
    if piece.loop and piece.loop == (0, piece.n_steps):
        loop_seconds = piece.n_steps * piece.seconds_per_step
        ax.axvline(loop_seconds, color="tab:red", linewidth=1.5)
        ax.text(loop_seconds, 1.01, f"loop point {loop_seconds:.1f} s: plays on from 0:00", color="tab:red",
                fontsize=9, ha="right", va="bottom", transform=ax.get_xaxis_transform())
        if seconds > loop_seconds:  # notes ringing past the loop point sound again at the start
            ax.axvspan(loop_seconds, seconds, color="tab:red", alpha=0.08, linewidth=0)
    elif piece.loop:  # intro, loop, outro
        start, end = (step * piece.seconds_per_step for step in piece.loop)
        ax.axvspan(start, end, color="tab:red", alpha=0.08, linewidth=0)
        for at in (start, end):
            ax.axvline(at, color="tab:red", linewidth=1.5)
        ax.text(end, 1.01, f"loop {start:.1f}-{end:.1f} s, after the intro; the outro follows", color="tab:red",
                fontsize=9, ha="right", va="bottom", transform=ax.get_xaxis_transform())


def _save(figure: Figure, path: Path) -> None:
    FigureCanvasAgg(figure)
    figure.tight_layout()
    with atomic_path(Path(path)) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)


def write_piece_figure(piece: Piece, path: Path) -> None:
    """song.png: one piece, wide enough to read."""
    figure = Figure(figsize=(12, 3.6))
    draw_piece(figure.add_subplot(), piece)
    _save(figure, path)


def write_contact_sheet(pieces: list[Piece], path: Path) -> None:
    """All variations of one command, one under another, on one page."""
    figure = Figure(figsize=(12, 2.6 * len(pieces)))
    for index, piece in enumerate(pieces):
        draw_piece(figure.add_subplot(len(pieces), 1, index + 1), piece)
    _save(figure, path)
