"""Thin I/O around the midi2img core: parse MIDI with symusic, write PNG rolls, run a folder on all cores."""

from __future__ import annotations

import csv
import multiprocessing
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from midi2img.atomic import first_line
from midi2img.core import (
    SUSTAIN_CC,
    extend_by_pedal,
    iter_windows,
    pedal_intervals,
    quantize_notes,
)
from midi2img.rollpng import write_png_atomic
from midi2img.spec import STEPS_PER_BEAT, empty_notes
from midi2img.styles import write_style_index

MIDI_SUFFIXES = (".mid", ".midi")
SPLITS = ("train", "validation", "test")
MAESTRO_HELP = (
    "run `python pipeline.py download` to fetch MAESTRO v2.0.0 into data/maestro-v2.0.0, "
    "or pass --midi-dir ../shared/data/maestro-v2.0.0 (or wherever your copy is)"
)


@dataclass
class ConvertSummary:
    """What a folder conversion did; pipeline.py exits non-zero when failures > 0."""

    files: int = 0
    images: int = 0
    notes: int = 0
    dropped_notes: int = 0
    failures: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (f"midi2img: {self.files} files, {self.images} images, {self.notes} notes, "
                f"{self.dropped_notes} dropped notes, {self.failures} failures, {self.seconds:.1f} s")


class MidiError(ValueError):
    """A MIDI file midi2img cannot convert; str(error) is the one-line reason a user reads."""


# MAESTRO's files are under 1.5 MB and its longest piece is under an hour; these limits only keep a
# broken or hostile file from taking the machine's memory or filling the disk with images.
MAX_FILE_BYTES = 64 * 2**20
MAX_BEATS = 6 * 60 * 60 * 2  # 6 hours at 120 bpm: at 4 steps per beat 172,800 steps, 576 images
_MIDI_MAGIC = b"MThd"
_KNOWN_MAGIC = {b"RIFF": "a RIFF file (RMID or WAV)", b"\x89PNG": "a PNG image", b"PK\x03\x04": "a ZIP archive",
                b"\xff\xd8\xff": "a JPEG image", b"%PDF": "a PDF document", b"ID3": "an MP3 file",
                b"fLaC": "a FLAC file", b"OggS": "an Ogg file"}


def _describe(data: bytes) -> str:
    """What a file that is not MIDI looks like, in words, for the error line."""
    for magic, name in _KNOWN_MAGIC.items():
        if data.startswith(magic):
            return name
    head = data[:64]
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "text"
    return f"starts with {data[:4]!r}"


def _translate_parser_error(error: Exception) -> str:
    """symusic's C++ messages ("MiniMidi: Invalid chunk length ...: iostream error") in a user's words."""
    text = first_line(error)
    text = text.removeprefix("MiniMidi: ").removesuffix(": iostream error").strip()
    lowered = text.lower()
    if "chunk length" in lowered or "unexpected end" in lowered or "out of range" in lowered:
        return f"truncated or corrupt MIDI: a chunk runs past the end of the file ({text})"
    if "division" in lowered:
        return f"unsupported MIDI timing ({text})"
    return f"corrupt MIDI data ({text})"


def parse_midi(path: Path):
    """A symusic Score of the file at path, or MidiError with a reason a user understands.

    Parsed from bytes, so the file name's suffix does not matter and the header is checked first.
    """
    import symusic  # imported here so that importing the package stays cheap for img2midi users

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise MidiError(f"file too large for a MIDI file ({size / 2**20:.0f} MiB; limit "
                            f"{MAX_FILE_BYTES // 2**20} MiB)")
        data = path.read_bytes()
    except FileNotFoundError:
        raise MidiError("no such file") from None
    except IsADirectoryError:
        raise MidiError("is a folder, not a file") from None
    except OSError as error:
        raise MidiError(f"cannot read: {error.strerror or error}") from None
    if not data:
        raise MidiError("empty file (0 bytes)")
    if not data.startswith(_MIDI_MAGIC):
        raise MidiError(f"not a MIDI file ({_describe(data)}, not a 'MThd' header)")
    if len(data) < 14:
        raise MidiError(f"truncated MIDI file: {len(data)} bytes, shorter than the 14-byte header")
    division = int.from_bytes(data[12:14], "big")
    if division & 0x8000:
        raise MidiError("SMPTE time division (frames per second) is not supported; "
                        "midi2img needs ticks per quarter note")
    if division == 0:
        raise MidiError("invalid MIDI header: 0 ticks per quarter note")
    try:
        return symusic.Score.from_midi(data)
    except Exception as error:  # symusic raises RuntimeError/ValueError with C++ wording
        raise MidiError(_translate_parser_error(error)) from None


def read_midi_notes(path: Path, steps_per_beat: int = STEPS_PER_BEAT, sustain: bool = True) -> tuple[np.ndarray, int]:
    """Notes (n, 4) of every non-drum track of a MIDI file on its step grid, and the count dropped for pitch range.

    The 4th column is each note's own note-on velocity (symusic's), what the image's onset pixel records.

    The sustain pedal (CC64) of each track extends that track's notes unless sustain=False.
    Raises MidiError (a ValueError) with a one-line reason for a file that cannot be read, whose
    times overflow, or that would last longer than MAX_BEATS beats.
    """
    score = parse_midi(path)
    tpq = int(score.ticks_per_quarter)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for track in score.tracks:
        if track.is_drum:
            continue
        n = track.notes.numpy()
        if len(n["time"]) == 0:
            continue
        starts = n["time"].astype(np.int64)
        ends = starts + n["duration"].astype(np.int64)
        if starts.min() < 0 or ends.min() < 0:
            raise MidiError("corrupt MIDI: note times overflow (delta times add up past 2^31 ticks)")
        if sustain:
            c = track.controls.numpy()
            is_pedal = c["number"] == SUSTAIN_CC
            times, values = c["time"][is_pedal], c["value"][is_pedal]
            order = np.argsort(times, kind="stable")
            ends = extend_by_pedal(ends, *pedal_intervals(times[order], values[order], int(ends.max())))
        _check_length(int(ends.max()), tpq)
        parts.append((n["pitch"].astype(np.int64), starts, ends, n["velocity"].astype(np.int64)))
    if not parts:
        return empty_notes(), 0
    pitches, starts, ends, velocities = (np.concatenate(a) for a in zip(*parts, strict=True))
    return quantize_notes(pitches, starts, ends, velocities, tpq, steps_per_beat)


def _check_length(last_tick: int, ticks_per_quarter: int) -> None:
    """MidiError for a file whose notes run past MAX_BEATS beats (huge tick values or delta times)."""
    beats = last_tick / ticks_per_quarter
    if beats > MAX_BEATS:
        raise MidiError(f"too long: notes run to beat {beats:,.0f} ({beats / 7200:,.1f} hours at 120 bpm); "
                        f"the limit is {MAX_BEATS:,} beats ({MAX_BEATS / 7200:g} hours at 120 bpm)")


def drum_notes(path: Path) -> int:
    """How many notes the file's drum tracks hold (for the reason of a file with no piano notes)."""
    try:
        return sum(len(t.notes) for t in parse_midi(path).tracks if t.is_drum)
    except MidiError:
        return 0


def convert_file(path: Path, out_dir: Path, steps_per_beat: int = STEPS_PER_BEAT,
                 sustain: bool = True) -> tuple[int, int, int]:
    """Write `<stem>_<window:04d>.png` for each non-silent window of one MIDI file; returns (images, notes, dropped).

    Raises MidiError (a ValueError) for a file that cannot be read or has no note in range, so the batch
    reports it as a failure. The roll is built a chunk of windows at a time, so memory stays bounded
    however long the piece is.
    """
    notes, dropped = read_midi_notes(path, steps_per_beat, sustain)
    if len(notes) == 0:
        drums = drum_notes(path)
        raise MidiError("no notes" + (f" in pitch range ({dropped} dropped)" if dropped else "")
                        + (f"; {drums} drum notes (channel 10) are skipped" if drums else ""))
    images = 0
    for index, image in iter_windows(notes):
        write_png_atomic(image, out_dir / f"{path.stem}_{index:04d}.png")
        images += 1
    return images, len(notes), dropped


def find_midi_files(midi_dir: Path) -> list[Path]:
    """All .mid/.midi files below midi_dir (any letter case), sorted so runs are reproducible."""
    return sorted(p for p in midi_dir.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())


def read_maestro_rows(midi_dir: Path) -> list[dict[str, str]]:
    """The rows of the MAESTRO CSV in midi_dir whose split is one of SPLITS; [] when there is none."""
    csvs = sorted(Path(midi_dir).glob("maestro-v*.csv"))
    if not csvs:
        return []
    with csvs[0].open(newline="", encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if row.get("split") in SPLITS]


def read_splits(midi_dir: Path) -> dict[str, str]:
    """midi_filename (posix, relative to midi_dir) -> split, from a MAESTRO CSV in midi_dir; {} when there is none."""
    return {row["midi_filename"]: row["split"] for row in read_maestro_rows(midi_dir)}


def _convert_job(job: tuple[Path, Path, int, bool]) -> tuple[Path, tuple[int, int, int] | None, str]:
    """Pool worker: never raises, so one bad file cannot stop the batch."""
    path, out_dir, steps_per_beat, sustain = job
    try:
        return path, convert_file(path, out_dir, steps_per_beat, sustain), ""
    except MidiError as error:
        return path, None, str(error)
    except MemoryError:
        return path, None, "out of memory converting this file"
    except OSError as error:  # writing the PNGs failed: disk full, permissions
        return path, None, f"cannot write images to {out_dir}: {error.strerror or error}"
    except Exception as error:  # anything unforeseen is still one line, and the batch goes on
        text = first_line(error) if str(error).strip() else ""
        return path, None, f"unexpected {type(error).__name__}" + (f": {text}" if text else "")


def convert_files(jobs: list[tuple[Path, Path]], workers: int, steps_per_beat: int = STEPS_PER_BEAT,
                  sustain: bool = True) -> ConvertSummary:
    """Convert (midi path, output folder) pairs on `workers` processes with a progress bar and a summary line."""
    began = time.perf_counter()
    summary = ConvertSummary()
    for folder in {out for _, out in jobs}:
        folder.mkdir(parents=True, exist_ok=True)
    tasks = [(path, out, steps_per_beat, sustain) for path, out in jobs]
    chunksize = max(1, min(8, len(tasks) // (4 * workers)))
    with (multiprocessing.Pool(workers) if workers > 1 and len(tasks) > 1 else _InlinePool()) as pool:
        results = pool.imap_unordered(_convert_job, tasks, chunksize=chunksize)
        for path, counts, reason in tqdm(results, total=len(tasks), desc="midi2img", unit="file",
                                         file=sys.stderr, disable=None):
            summary.files += 1
            if counts is None:
                summary.failures += 1
                tqdm.write(f"midi2img: {path}: {reason}", file=sys.stderr)
                continue
            summary.images += counts[0]
            summary.notes += counts[1]
            summary.dropped_notes += counts[2]
    summary.seconds = time.perf_counter() - began
    print(summary.line(), flush=True)
    return summary


class _InlinePool:
    """Stand-in for a Pool when one process is asked for: easier to debug and profile, no fork cost."""

    def __enter__(self) -> _InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def imap_unordered(self, func, iterable, chunksize: int = 1):  # mirrors Pool.imap_unordered
        return map(func, iterable)


def convert_folder(midi_dir: Path, out_dir: Path, workers: int, steps_per_beat: int = STEPS_PER_BEAT,
                   sustain: bool = True) -> ConvertSummary:
    """Convert every MIDI file below midi_dir; with a MAESTRO CSV, images go to out_dir/<split>/, each
    split's style labels beside them (midi2img/styles.py)."""
    midi_dir, out_dir = Path(midi_dir), Path(out_dir)
    if not midi_dir.is_dir():
        print(f"midi2img: {midi_dir}: no such folder; {MAESTRO_HELP}", file=sys.stderr)
        return ConvertSummary(failures=1)
    rows = read_maestro_rows(midi_dir)
    splits = {row["midi_filename"]: row["split"] for row in rows}
    jobs = []
    for path in find_midi_files(midi_dir):
        split = splits.get(path.relative_to(midi_dir).as_posix())
        jobs.append((path, out_dir / split if split else out_dir))
    if not jobs:
        print(f"midi2img: {midi_dir}: no .mid/.midi files found; {MAESTRO_HELP}", file=sys.stderr)
        return ConvertSummary(failures=1)
    summary = convert_files(jobs, workers, steps_per_beat, sustain)
    for split in sorted({out.name for _, out in jobs} & set(splits.values())):
        write_style_index(out_dir / split, [(Path(row["midi_filename"]).stem, row.get("canonical_composer", ""))
                                            for row in rows if row["split"] == split])
    return summary
