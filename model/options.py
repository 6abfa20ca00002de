"""What `sample` accepts, in one place for the command line (pipeline.py) and the studio (web/app.py).

Kept free of heavy imports: the command line reads it before any stage loads.
"""

from __future__ import annotations

from typing import NamedTuple

MOODS = ("uplifting", "meditation", "nature", "bittersweet")  # img2midi.mood.MOODS' names (a test checks)
FORMATS = ("wav", "ogg", "flac")  # img2midi.audio.FORMATS' names (a test checks)
# Who plays the dynamics: the performance model (img2midi/dynamics.py) from the notes, or the generator's own
# velocities. "played" is the default: a classifier tells the generators' own from a pianist's at 0.98-0.99,
# the played ones at 0.79-0.82 (bench/quality/README.md).
DYNAMICS = ("played", "drawn")
# Integrated loudness by where the game plays (true peak at most -1 dBTP in all): Sony's ASWG-R001
# asks -23 LUFS (+-2 LU) of home-console titles; -16 LUFS, the loud end of AES TD1004's -16 to -20
# for streamed audio, carries over phone and laptop speakers (mobile, web).
LOUDNESS_PRESETS = {"console": -23.0, "mobile": -16.0, "web": -16.0}
DEFAULT_LUFS = LOUDNESS_PRESETS["mobile"]


def target_lufs(lufs: float | None, loudness: str | None) -> float:
    """The loudness a piece is mastered to: `lufs` when given, else the preset's, else DEFAULT_LUFS."""
    return lufs if lufs is not None else LOUDNESS_PRESETS.get(loudness, DEFAULT_LUFS)


class Range(NamedTuple):
    """A number from low to high, both included."""

    low: float
    high: float
    unit: str = ""
    kind: type = float


DRAFTS = 32  # drafts of a piece asked for eras only (model/eracritic.py); 1 keeps the first

RANGES = {
    "duration": Range(4, 1200, " s"),  # 20 minutes take 2 minutes and 4.5 GB
    "bpm": Range(20, 400),
    "transpose": Range(-24, 24, " semitones", int),
    "sample_rate": Range(8000, 96000, " Hz", int),  # what fluidsynth renders
    "lufs": Range(-36, -10),
    "intro": Range(0, 120, " s"),
    "outro": Range(0, 120, " s"),
    "variation": Range(0, 2),  # 1: a step as long as a random latent
    "primer_seconds": Range(1, 120, " s"),
    "drafts": Range(1, 64, " drafts", int),  # each draft of a piece costs what the piece does
}


def out_of_range(name: str, value: float) -> str | None:
    """The one line that says why `value` is refused for option `name`, or None when it is within RANGES."""
    low, high, unit, _ = RANGES[name]
    if low <= value <= high:
        return None
    return f"{value:g}{unit} is out of range; use {low:g} to {high:g}{unit}"
