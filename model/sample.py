"""The sample stage: generator -> rolls -> MIDI, WAV and PNG files ready to use."""

from __future__ import annotations

import zipfile
from pathlib import Path

import keras

from img2midi import notes_to_midi, roll_to_notes, write_midi_atomic
from img2midi.audio import synthesize, write_wav_atomic
from midi2img.io import write_png_atomic
from midi2img.spec import IMAGE_SHAPE, STEPS_PER_BEAT, WINDOW_STEPS
from model import checkpoint
from model.generate import generate_rolls, latents

TAIL_SECONDS = 1.0  # let the last notes ring out past the roll's end


def load_generator(path: Path) -> keras.Model:
    """A generator from a .keras file or a run folder (its newest checkpoint), with a clear error otherwise."""
    path = Path(path)
    if path.is_dir():
        found = checkpoint.list_checkpoints(path / "checkpoints") or checkpoint.list_checkpoints(path)
        if not found:
            raise SystemExit(f"sample: no checkpoint in {path}")
        path = found[-1] / "generator.keras"
    if not path.is_file():
        raise SystemExit(f"sample: model {path} not found")
    try:
        generator = keras.models.load_model(path, compile=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise SystemExit(f"sample: cannot load model {path}: {error}") from None
    if tuple(generator.output_shape[1:]) != (*IMAGE_SHAPE, 1) or len(generator.input_shape) != 2:
        raise SystemExit(f"sample: {path} maps {generator.input_shape} -> {generator.output_shape}, "
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
        pm = notes_to_midi(notes, bpm=bpm, steps_per_beat=STEPS_PER_BEAT)
        write_midi_atomic(pm, midi_path)
        write_png_atomic(roll, midi_path.with_suffix(".png"))
        if render_wav:
            audio = synthesize(pm, soundfont, min_seconds=seconds + TAIL_SECONDS)
            write_wav_atomic(audio, midi_path.with_suffix(".wav"))
        print(f"sample: {midi_path}: {len(notes)} notes, {seconds:.1f} s at {bpm:g} bpm")
        written.append(midi_path)
    return written
