"""pipeline.py end to end, as a user runs it: real processes, real files, exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def run(*args: str | Path, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(REPO / "pipeline.py"), *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if check and result.returncode != 0:
        pytest.fail(f"pipeline.py {' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def wav_seconds_and_rms(path: Path) -> tuple[float, float]:
    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth()) == (2, 2)  # stereo, 16-bit
        samples = np.frombuffer(audio.readframes(audio.getnframes()), dtype="<i2") / 32768
        return audio.getnframes() / audio.getframerate(), float(np.sqrt(np.mean(samples ** 2)))


def check_piece(midi_path: Path, min_notes: int) -> list[pretty_midi.Note]:
    """The three files of one sampled piece exist and are what a player or game engine can use."""
    notes = pretty_midi.PrettyMIDI(str(midi_path)).instruments[0].notes
    assert len(notes) >= min_notes
    assert all(21 <= n.pitch <= 108 for n in notes)
    seconds, rms = wav_seconds_and_rms(midi_path.with_suffix(".wav"))
    assert 30 <= seconds <= 45 and rms > 0.005
    with Image.open(midi_path.with_suffix(".png")) as picture:  # the whole piece drawn for people, not a roll
        assert picture.format == "PNG" and picture.width >= 600 and picture.height >= 200
    return notes


def test_midi2img_train_resume_sample(maestro, tmp_path):
    midi_dir = tmp_path / "midi"
    midi_dir.mkdir()
    for name in sorted(p for p in (maestro / "2004").glob("*.midi"))[:3]:
        (midi_dir / name.name).symlink_to(name)
    images = tmp_path / "images"
    out = run("midi2img", "--midi-dir", midi_dir, "--out-dir", images, "--workers", "2").stdout
    assert "3 files" in out and "0 failures" in out
    assert len(list(images.glob("*.png"))) >= 30

    run_dir = tmp_path / "run"
    first = run("train", "--preset", "tiny", "--images", images, "--run-dir", run_dir,
                "--max-steps", "4", "--checkpoint-every", "2")
    assert "on CPU" in first.stdout or "on GPU" in first.stdout
    assert "stopped at step 4: reached --max-steps 4" in first.stdout
    second = run("train", "--images", images, "--run-dir", run_dir, "--resume", "--max-steps", "6")
    assert "resumed from" in second.stdout and "step_00000004" in second.stdout
    assert "stopped at step 6" in second.stdout

    song = tmp_path / "out" / "song.mid"
    run("sample", "--model", run_dir, "--out", song, "--count", "2", "--threshold", "1", "--seed", "5")
    for path in (song, song.with_name("song_1.mid")):
        check_piece(path, min_notes=1)


def test_shipped_generator_makes_piano_music(tmp_path):
    song = tmp_path / "song.mid"
    printed = run("sample", "--out", song, "--seed", "0").stdout
    assert "notes" in printed
    notes = check_piece(song, min_notes=20)
    assert len({n.pitch for n in notes}) >= 5  # more than one stuck key
    again = tmp_path / "again.mid"
    run("sample", "--out", again, "--seed", "0", "--no-audio")
    assert again.read_bytes() == song.read_bytes()
    other = tmp_path / "other.mid"
    run("sample", "--out", other, "--seed", "1", "--no-audio")
    assert other.read_bytes() != song.read_bytes()


@pytest.mark.parametrize("kind", ["missing", "garbage", "wrong_shape"])
def test_sample_refuses_a_bad_model_in_one_line(tmp_path, kind):
    model = tmp_path / "model.keras"
    if kind == "garbage":
        model.write_bytes(os.urandom(2048))
    elif kind == "wrong_shape":
        import keras

        keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]).save(model)
    result = run("sample", "--model", model, "--out", tmp_path / "s.mid", check=False)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert str(model) in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "s.mid").exists()


def test_img2midi_cli_decodes_and_reports_bad_images(tmp_path):
    roll = np.zeros((106, 300), np.uint8)
    roll[126 - 60, 8:12] = [255, 128, 128, 128]  # middle C, one beat from step 8
    Image.fromarray(roll, mode="L").save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    result = run("img2midi", tmp_path / "good.png", tmp_path / "bad.png", "--out-dir", tmp_path / "mid",
                 "--bpm", "60", check=False)
    assert result.returncode == 1 and "bad.png" in result.stderr and "Traceback" not in result.stderr
    notes = pretty_midi.PrettyMIDI(str(tmp_path / "mid" / "good.mid")).instruments[0].notes
    assert [(n.pitch, n.start, n.end) for n in notes] == [(60, 2.0, 3.0)]
