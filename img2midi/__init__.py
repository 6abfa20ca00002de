"""img2midi: 106x300 grayscale PNG piano rolls -> MIDI files (format in midi2img.spec)."""

from img2midi.core import DEFAULT_THRESHOLD, ONSET_THRESHOLD, notes_to_midi, roll_to_notes
from img2midi.io import convert_images, write_midi_atomic

__all__ = [
    "DEFAULT_THRESHOLD",
    "ONSET_THRESHOLD",
    "convert_images",
    "notes_to_midi",
    "roll_to_notes",
    "write_midi_atomic",
]
