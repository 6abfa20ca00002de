"""midi2img: MIDI files -> 106x300 grayscale PNG piano rolls (format in midi2img.spec)."""

from midi2img.core import iter_windows, notes_to_roll, quantize_notes, roll_windows
from midi2img.io import (
    ConvertSummary,
    MidiError,
    convert_file,
    convert_files,
    convert_folder,
    parse_midi,
    read_midi_notes,
)

__all__ = [
    "ConvertSummary",
    "MidiError",
    "convert_file",
    "convert_files",
    "convert_folder",
    "iter_windows",
    "notes_to_roll",
    "parse_midi",
    "quantize_notes",
    "read_midi_notes",
    "roll_windows",
]
