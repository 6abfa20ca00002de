"""The sample stage: generator -> rolls -> MIDI, WAV and PNG files ready to use."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from img2midi import notes_to_midi, roll_to_notes, write_midi_atomic
from img2midi.audio import synthesize, write_wav_atomic
from midi2img.atomic import first_line
from midi2img.io import write_png_atomic
from midi2img.spec import IMAGE_SHAPE, STEPS_PER_BEAT, WINDOW_STEPS
from model import checkpoint
from model.generate import generate_rolls, latents

TAIL_SECONDS = 1.0  # let the last notes ring out past the roll's end
PIANO_HIGHEST = 108  # C8: the image rows above it (up to 126) are no piano key, so notes there are dropped


def load_generator(path: Path) -> keras.Model:
    """A generator from a .keras file or a run folder (its newest checkpoint), with a clear error otherwise."""
    path = Path(path)
    if path.is_dir():
        newest = checkpoint.newest_valid(path / "checkpoints", "sample") or checkpoint.newest_valid(path, "sample")
        if newest is None:
            raise SystemExit(f"sample: no usable checkpoint in {path}")
        path = newest / "generator.keras"
    if not path.is_file():
        raise SystemExit(f"sample: model {path} not found")
    if path.stat().st_size == 0:
        raise SystemExit(f"sample: cannot load model {path}: empty file (0 bytes)")
    if path.suffix.lower() == ".keras" and not zipfile.is_zipfile(path):
        raise SystemExit(f"sample: cannot load model {path}: not a .keras model file "
                         "(a .keras file is a zip archive; this one is truncated or something else)")
    try:
        generator = keras.models.load_model(path, compile=False)
    except Exception as error:  # keras reports broken files with many exception types; one line for all
        raise SystemExit(f"sample: cannot load model {path}: {first_line(error)}") from None
    try:
        input_shape, output_shape = tuple(generator.input_shape), tuple(generator.output_shape)
    except (AttributeError, TypeError, ValueError):  # a model with several or no inputs/outputs
        raise SystemExit(f"sample: {path} is not a generator (no single input and output)") from None
    if tuple(output_shape[1:]) != (*IMAGE_SHAPE, 1) or len(input_shape) != 2:
        raise SystemExit(f"sample: {path} maps {input_shape} -> {output_shape}, "
                         f"not a latent vector -> {IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}x1 generator")
    return generator


def output_paths(out: Path, index: int) -> Path:
    """song.mid, then song_1.mid, song_2.mid, ... for further pieces."""
    return out if index == 0 else out.with_name(f"{out.stem}_{index}{out.suffix}")


def sample(out: Path, model_path: Path, count: int = 1, seed: int = 0, threshold: int | None = None,
           bpm: float = 120.0, soundfont: Path | None = None, render_wav: bool = True) -> list[Path]:
    """Write `count` pieces as .mid (+ .wav, + .png beside each); returns the MIDI paths."""
    out = Path(out)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise SystemExit(f"sample: --out {out} should end in .mid")
    generator = load_generator(model_path)
    rolls = generate_rolls(generator, latents(seed, count, generator.input_shape[-1]))
    out.parent.mkdir(parents=True, exist_ok=True)
    seconds = WINDOW_STEPS * 60.0 / (bpm * STEPS_PER_BEAT)
    written = []
    for index, roll in enumerate(rolls):
        midi_path = output_paths(out, index)
        notes = roll_to_notes(roll, threshold)
        notes = notes[notes[:, 0] <= PIANO_HIGHEST]
        pm = notes_to_midi(notes, bpm=bpm, steps_per_beat=STEPS_PER_BEAT)
        write_midi_atomic(pm, midi_path)
        write_png_atomic(roll, midi_path.with_suffix(".png"))
        if render_wav:
            audio = synthesize(pm, soundfont, min_seconds=seconds + TAIL_SECONDS)
            write_wav_atomic(audio, midi_path.with_suffix(".wav"))
        print(f"sample: {midi_path}: {len(notes)} notes, {seconds:.1f} s at {bpm:g} bpm")
        written.append(midi_path)
    return written
