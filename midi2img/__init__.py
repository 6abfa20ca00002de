"""midi2img: MIDI files -> 106x300 grayscale PNG piano rolls (format in midi2img.spec)."""

from midi2img.core import notes_to_roll, quantize_notes, roll_windows
from midi2img.io import ConvertSummary, convert_file, convert_files, convert_folder, read_midi_notes

__all__ = [
    "ConvertSummary",
    "convert_file",
    "convert_files",
    "convert_folder",
    "notes_to_roll",
    "quantize_notes",
    "read_midi_notes",
    "roll_windows",
]
