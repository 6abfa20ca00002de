"""Shared test helpers: MIDI files built in code (tick-exact) and the MAESTRO location beside the repo."""

from __future__ import annotations

import struct
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import symusic

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MAESTRO = REPO.parent / "shared" / "data" / "maestro-v2.0.0"
TPQ = 480  # ticks per quarter of the test files; one step = 120 ticks at 4 steps per beat
STEP = TPQ // 4
DEFAULT_NOTE_VELOCITY = 80  # what write_midi gives a note written without a velocity


def write_midi(path: Path, notes: Iterable[tuple[int, ...]], *, pedal: Iterable[tuple[int, int]] = (),
               tempos: Iterable[tuple[int, float]] = ((0, 120.0),), drum_notes: Iterable[tuple[int, int, int]] = (),
               tpq: int = TPQ) -> Path:
    """A MIDI file with one piano track of (pitch, start, end tick[, velocity]) notes and CC64 (tick, value) events.

    Notes without a velocity get DEFAULT_NOTE_VELOCITY.
    """
    score = symusic.Score(tpq)
    for tick, qpm in tempos:
        score.tempos.append(symusic.Tempo(tick, qpm=qpm))
    piano = symusic.Track(name="piano", program=0, is_drum=False)
    for pitch, start, end, *velocity in notes:
        piano.notes.append(symusic.Note(start, end - start, pitch, velocity[0] if velocity else DEFAULT_NOTE_VELOCITY))
    for tick, value in pedal:
        piano.controls.append(symusic.ControlChange(tick, 64, value))
    score.tracks.append(piano)
    drums = list(drum_notes)
    if drums:
        kit = symusic.Track(name="drums", program=0, is_drum=True)
        for pitch, start, end in drums:
            kit.notes.append(symusic.Note(start, end - start, pitch, 80))
        score.tracks.append(kit)
    score.dump_midi(str(path))
    return path


@pytest.fixture
def make_midi(tmp_path: Path) -> Callable[..., Path]:
    """write_midi into the test's tmp folder: make_midi("name.mid", notes, pedal=..., tempos=...)."""
    folder = tmp_path / "midi"

    def make(name: str, *args, **kwargs) -> Path:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        return write_midi(folder / name, *args, **kwargs)

    folder.mkdir(exist_ok=True)
    return make


@pytest.fixture(scope="session")
def maestro() -> Path:
    """The shared MAESTRO v2.0.0 folder beside the repo; tests that need it skip when it is absent."""
    if not (MAESTRO / "maestro-v2.0.0.csv").is_file():
        pytest.skip(f"MAESTRO v2.0.0 not found at {MAESTRO} (expected ../shared/data/maestro-v2.0.0)")
    return MAESTRO


def riff_chunks(path: Path) -> dict[bytes, bytes]:
    """A WAV file's chunks by id, read by hand from the RIFF layout (independent of img2midi.audio)."""
    data = path.read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8  # the RIFF size covers every chunk
    chunks, at = {}, 12
    while at + 8 <= len(data):
        name, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        chunks[name] = data[at + 8:at + 8 + size]
        at += 8 + size + size % 2
    return chunks


def wav_loop(path: Path) -> tuple[int, int]:
    """(start, end) samples of the first loop of a WAV's `smpl` chunk."""
    smpl = riff_chunks(path)[b"smpl"]
    assert struct.unpack("<I", smpl[28:32])[0] == 1  # one loop
    _, kind, start, end, _, plays = struct.unpack("<6I", smpl[36:60])
    assert kind == 0 and plays == 0  # forward, endless
    return start, end
