"""The sample stage end to end with the shipped generator: lengths, loudness, seams, moods, options.

The shipped generator will be replaced by better ones, so these tests check properties
(lengths, loudness, seams, directions of the moods), never particular notes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile
from conftest import wav_loop
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis
from PIL import Image

import pipeline
from img2midi import ONSET_THRESHOLD, roll_to_notes
from img2midi.audio import FORMATS, VORBIS_GRID
from img2midi.loudness import integrated_loudness, true_peak_db
from img2midi.mood import MOODS, arrange, key_profile
from img2midi.parts import VOICES
from midi2img.spec import N_PITCHES, pitch_class_histogram, pitch_to_row
from model.sample import sample

REPO = Path(__file__).resolve().parents[1]
RATE = 44100


def seam_figures(audio: np.ndarray, rate: int) -> tuple[float, float, float]:
    """(jump across the loop seam, 99.9th percentile of all jumps, dB between the RMS of the last and first 100 ms)."""
    audio = audio.reshape(len(audio), -1)
    jumps = np.abs(np.diff(audio, axis=0)).max(axis=1)
    window = int(0.1 * rate)
    rms_db = lambda part: 10 * np.log10(np.mean(part ** 2) + 1e-20)  # noqa: E731
    return (float(np.abs(audio[0] - audio[-1]).max()), float(np.percentile(jumps, 99.9)),
            abs(rms_db(audio[-window:]) - rms_db(audio[:window])))


def test_bar_command_writes_a_seamless_90_s_ogg_loop_at_minus_16_lufs(tmp_path):
    """Issue 4's bar, as a user runs it: 90 +- 1 s, -16 +- 1 LUFS, <= -1 dBTP, loop tags, sidecar, seam."""
    track = tmp_path / "t" / "track.ogg"
    command = [sys.executable, str(REPO / "pipeline.py"), "sample", "--out", str(track), "--duration", "90",
               "--loop", "--mood", "meditation", "--seed", "1"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    audio, rate = soundfile.read(track, dtype="float64")
    assert soundfile.info(track).format == "OGG" and soundfile.info(track).subtype == "VORBIS"
    assert abs(len(audio) / rate - 90) <= 1
    assert abs(integrated_loudness(audio, rate) - -16) <= 1 and true_peak_db(audio) <= -1
    tags = OggVorbis(track)
    assert tags["LOOPSTART"] == ["0"] and tags["LOOPLENGTH"] == [str(len(audio))]
    sidecar = json.loads(track.with_name("track.loop.json").read_text())
    assert sidecar["loop_start_samples"] == 0 and sidecar["loop_length_samples"] == len(audio)
    assert sidecar["sample_rate"] == rate and sidecar["loop_length_seconds"] == pytest.approx(len(audio) / rate)
    jump, usual, rms_difference = seam_figures(audio, rate)
    assert jump <= usual and rms_difference < 3
    midi = pretty_midi.PrettyMIDI(str(track.with_suffix(".mid")))
    assert len(midi.instruments[0].notes) > 20
    with Image.open(track.with_suffix(".png")) as picture:
        assert picture.format == "PNG" and picture.width >= 1000
    # Same seed, same MIDI bytes; and the MIDI does not depend on the audio options (in-process: no second start-up).
    again = tmp_path / "again.mid"
    pipeline.main(["sample", "--out", str(again), *command[5:], "--no-audio"])
    assert again.read_bytes() == track.with_suffix(".mid").read_bytes()
    assert json.loads(again.with_name("again.loop.json").read_text())["audio"] is None


def mood_figures(path: Path, seconds: float) -> dict[str, float]:
    """What the mood table promises, measured on the MIDI file: tempo, density, register, key colour."""
    midi = pretty_midi.PrettyMIDI(str(path))
    notes = midi.instruments[0].notes
    steps = 60 / (midi.get_tempo_changes()[1][0] * 4)
    array = np.array([[n.pitch, round(n.start / steps), round(n.end / steps), n.velocity] for n in notes])
    return {"bpm": float(midi.get_tempo_changes()[1][0]), "notes_per_second": len(notes) / seconds,
            "mean_pitch": float(np.mean([n.pitch for n in notes])),
            "histogram": pitch_class_histogram(array, by_duration=True)}


def test_moods_change_tempo_density_register_and_key_as_the_table_says(tmp_path):
    seconds, figures = 20.0, {}
    for name in MOODS:
        (midi,) = sample(tmp_path / f"{name}.mid", pipeline.SHIPPED_GENERATOR, seed=0, duration=seconds,
                         mood=name, audio=False)
        figures[name] = mood_figures(midi, seconds)
    for name, mood in MOODS.items():
        found = figures[name]
        assert found["bpm"] == pytest.approx(mood.bpm, abs=0.01)  # MIDI stores whole microseconds per beat
        assert abs(found["mean_pitch"] - mood.centre) <= 6
        tonic, histogram = mood.tonic, found["histogram"]
        major = np.corrcoef(histogram, np.roll(key_profile("major"), tonic))[0, 1]
        minor = np.corrcoef(histogram, np.roll(key_profile("minor"), tonic))[0, 1]
        major_third, minor_third = histogram[(tonic + 4) % 12], histogram[(tonic + 3) % 12]
        if mood.mode == "major":  # the major third above the tonic sounds, the minor third never
            assert major > minor and major_third > 0 and minor_third == 0
        else:
            assert minor > major and minor_third > 0 and major_third == 0
    for key in ("bpm", "notes_per_second", "mean_pitch"):
        order = sorted(MOODS, key=lambda name: figures[name][key])  # noqa: B023
        assert order == EXPECTED_ORDER[key], (key, {name: round(figures[name][key], 2) for name in MOODS})


EXPECTED_ORDER = {  # README.md's mood table, slowest / sparsest / lowest first
    "bpm": ["meditation", "bittersweet", "nature", "uplifting"],
    "notes_per_second": ["meditation", "nature", "bittersweet", "uplifting"],
    "mean_pitch": ["meditation", "bittersweet", "uplifting", "nature"],
}


def test_readme_mood_table_is_the_presets():
    rows = {}
    for line in (REPO / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`*") for c in line.strip().strip("|").split("|")]
        if cells[0] in MOODS:
            rows[cells[0]] = cells
    assert set(rows) == set(MOODS)
    for name, mood in MOODS.items():
        text = " ".join(rows[name])
        numbers = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text)]
        for value in (mood.bpm, mood.velocity, mood.threshold, mood.notes_per_beat, mood.min_beats, mood.centre):
            assert value in numbers, (name, value, text)
        assert mood.key in text
    assert [MOODS[n].bpm for n in EXPECTED_ORDER["bpm"]] == sorted(m.bpm for m in MOODS.values())
    assert [MOODS[n].centre for n in EXPECTED_ORDER["mean_pitch"]] == sorted(m.centre for m in MOODS.values())


def test_count_writes_variations_a_contact_sheet_and_pieces_of_the_asked_length(tmp_path):
    out = tmp_path / "song.flac"
    midis = sample(out, pipeline.SHIPPED_GENERATOR, count=2, seed=3, duration=12, bpm=100)
    assert [m.name for m in midis] == ["song.mid", "song_1.mid"]
    for stem in ("song", "song_1"):
        audio, rate = soundfile.read(tmp_path / f"{stem}.flac")
        assert audio.shape == (12 * rate, 2) and (audio[-1] == 0).all()  # not a loop: rings out, fades to zero
        assert (tmp_path / f"{stem}.png").is_file() and not (tmp_path / f"{stem}.loop.json").exists()
        last_end = max(n.end for n in pretty_midi.PrettyMIDI(str(tmp_path / f"{stem}.mid")).instruments[0].notes)
        assert 10 <= last_end <= 11 + 1e-6  # the roll fills the piece but its last second
    assert midis[0].read_bytes() != midis[1].read_bytes()
    with Image.open(tmp_path / "song_contact.png") as sheet:
        assert sheet.format == "PNG" and sheet.height > 2 * 200


@pytest.mark.parametrize(("argv", "reason"), [
    (["--out", "x.ogg", "--format", "wav"], "ends in .ogg but --format is wav"),
    (["--out", "x.ogg", "--no-audio"], "--no-audio writes MIDI only"),
    (["--out", "x.mp3"], "should end in .mid"),
])
def test_contradictory_options_get_one_line_before_any_work(tmp_path, argv, reason):
    argv = [a.replace("x.", str(tmp_path / "x.")) for a in argv]
    with pytest.raises(SystemExit) as error:
        pipeline.main(["sample", *argv])
    message = str(error.value)
    assert message.startswith("sample: ") and reason in message and "\n" not in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("argv", "reason"), [
    (["--duration", "2"], "--duration: 2 s is out of range; use 4 to 1200 s"),
    (["--sample-rate", "1000"], "--sample-rate: 1000 Hz is out of range; use 8000 to 96000 Hz"),
    (["--lufs", "0"], "--lufs: 0 is out of range; use -36 to -10"),
    (["--bpm", "500"], "--bpm: 500 is out of range; use 20 to 400"),
    (["--transpose", "30"], "--transpose: 30 semitones is out of range; use -24 to 24 semitones"),
])
def test_an_option_out_of_range_is_refused_where_the_command_line_is_parsed(tmp_path, capsys, argv, reason):
    with pytest.raises(SystemExit):
        pipeline.main(["sample", "--out", str(tmp_path / "x.ogg"), *argv])
    assert reason in capsys.readouterr().err.splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_command_line_choices_are_the_presets_and_formats():
    sample_parser = pipeline.build_parser()._subparsers._group_actions[0].choices["sample"]
    choices = {action.dest: action.choices for action in sample_parser._actions}
    assert tuple(choices["mood"]) == tuple(MOODS) and tuple(choices["audio_format"]) == tuple(FORMATS)


def test_arrange_without_a_mood_only_transposes():
    roll = np.zeros((N_PITCHES, 16), np.uint8)
    roll[pitch_to_row(60), 0:4] = [255, 128, 128, 128]
    roll[pitch_to_row(107), 4] = ONSET_THRESHOLD
    notes = roll_to_notes(roll)
    assert arrange(notes, roll, None).tolist() == [[60, 0, 4, 127], [107, 4, 5, 1]]
    assert arrange(notes, roll, None, semitones=3).tolist() == [[63, 0, 4, 127], [98, 4, 5, 1]]  # 110 folds to 98


def test_sample_plays_a_pianists_dynamics_unless_asked_for_the_generators_own(tmp_path):
    """Generators' own velocities barely vary between pieces (a classifier tells them at 0.98), so by
    default img2midi.dynamics plays the notes, the same way every time; `--dynamics drawn` keeps the
    generator's, and is refused in one line for a generator that draws none."""
    from model.config import TrainConfig
    from model.dcgan import build_generator
    from model.sample import sample

    def velocities(path: Path) -> np.ndarray:
        return np.array([n.velocity for n in pretty_midi.PrettyMIDI(str(path)).instruments[0].notes])

    first, again = (sample(tmp_path / name, pipeline.SHIPPED_GENERATOR, audio=False)[0] for name in ("a.mid", "b.mid"))
    assert first.read_bytes() == again.read_bytes()
    played = velocities(first)
    assert 8 <= played.std() <= 25 and 40 <= played.mean() <= 85  # real rolls: sd 15.7 +- 3.4, mean 63 +- 11
    (drawn,) = sample(tmp_path / "c.mid", pipeline.SHIPPED_GENERATOR, audio=False, dynamics="drawn")
    assert len(velocities(drawn)) == len(played) and not np.array_equal(velocities(drawn), played)  # same notes
    unvoiced = tmp_path / "unvoiced.keras"
    build_generator(TrainConfig.from_preset("tiny", onset_velocity=False)).save(unvoiced)
    with pytest.raises(SystemExit, match="draws no velocities"):
        sample(tmp_path / "d.mid", unvoiced, audio=False, dynamics="drawn")


def test_a_wav_loop_is_stereo_and_carries_its_loop_in_a_smpl_chunk(tmp_path):
    """Issue 16's first bar, shorter: Godot, Unreal and samplers read the loop from the WAV itself."""
    track = tmp_path / "x.wav"
    sample(track, pipeline.SHIPPED_GENERATOR, seed=1, duration=8, loop=True)
    audio, rate = soundfile.read(track)
    assert audio.shape == (8 * rate, 2) and np.corrcoef(audio.T)[0, 1] < 0.999  # two channels, not one twice
    assert wav_loop(track) == (0, len(audio) - 1)
    assert json.loads(track.with_name("x.loop.json").read_text())["loop_length_samples"] == len(audio)


def test_intro_loop_outro_is_one_file_and_three_parts_that_join_without_a_click(tmp_path):
    """Issue 16's second bar, shorter and in FLAC (lossless, so that the parts equal the whole exactly)."""
    track = tmp_path / "y.flac"
    (midi,) = sample(track, pipeline.SHIPPED_GENERATOR, seed=1, duration=8, loop=True, intro=2, outro=2)
    whole, rate = soundfile.read(track)
    tags = FLAC(track)
    start, length = int(tags["LOOPSTART"][0]), int(tags["LOOPLENGTH"][0])
    assert start % VORBIS_GRID == 0 and length % VORBIS_GRID == 0  # parts on the Vorbis grid (img2midi/audio.py)
    assert abs(start - 2 * rate) < VORBIS_GRID and abs(length - 8 * rate) <= VORBIS_GRID / 2
    parts = [soundfile.read(tmp_path / f"y_{part}.flac")[0] for part in ("intro", "loop", "outro")]
    assert [len(part) for part in parts[:2]] == [start, length] and len(parts[2]) > 2 * rate  # the ending rings
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert [int(x) for x in FLAC(tmp_path / "y_loop.flac")["LOOPLENGTH"]] == [length]
    jumps = np.abs(np.diff(whole, axis=0)).max(axis=1)
    usual = np.percentile(jumps, 99.9)
    for before, after in ((start - 1, start), (start + length - 1, start), (start + length - 1, start + length)):
        assert np.abs(whole[after] - whole[before]).max() <= usual  # intro->loop, loop->loop, loop->outro
    notes = pretty_midi.PrettyMIDI(str(midi)).instruments[0].notes
    last_onset = max(n.start for n in notes)
    assert max(n.end for n in notes) == pytest.approx(12.0, rel=1e-3) and last_onset <= 12.0 - 1.0  # a held ending
    sidecar = json.loads(track.with_name("y.loop.json").read_text())
    assert (sidecar["loop_start_samples"], sidecar["loop_length_samples"]) == (start, length)


def test_stems_sum_to_the_mix_and_share_out_its_notes(tmp_path):
    """Issue 16's third bar, shorter: bass, harmony and melody, each as long as the mix and at its gain."""
    track = tmp_path / "s.wav"
    (midi,) = sample(track, pipeline.SHIPPED_GENERATOR, seed=2, duration=8, loop=True, stems=True)
    mix, rate = soundfile.read(track)
    stems = [soundfile.read(tmp_path / f"s_{voice}.wav")[0] for voice in VOICES]
    assert all(stem.shape == mix.shape for stem in stems)
    assert all(np.sqrt(np.mean(stem ** 2)) > 1e-3 for stem in stems)  # none silent
    residual = np.sqrt(np.mean((sum(stems) - mix) ** 2)) / np.sqrt(np.mean(mix ** 2))
    assert 20 * np.log10(residual) < -40
    assert all(wav_loop(tmp_path / f"s_{voice}.wav") == (0, len(mix) - 1) for voice in VOICES)

    def notes(path: Path) -> list[tuple]:
        return [(n.pitch, n.start, n.end, n.velocity) for n in pretty_midi.PrettyMIDI(str(path)).instruments[0].notes]

    shared = sum((notes(tmp_path / f"s_{voice}.mid") for voice in VOICES), [])
    assert sorted(shared) == sorted(notes(midi))


def test_the_console_preset_masters_to_minus_23_lufs(tmp_path):
    track = tmp_path / "c.ogg"
    pipeline.main(["sample", "--out", str(track), "--duration", "10", "--loudness", "console", "--channels", "1"])
    audio, rate = soundfile.read(track)
    assert audio.ndim == 1 and abs(integrated_loudness(audio, rate) - -23) <= 1 and true_peak_db(audio) <= -1


@pytest.mark.parametrize(("argv", "reason"), [
    (["--intro", "4"], "--intro and --outro frame a loop; add --loop"),
])
def test_options_that_need_a_loop_say_so(tmp_path, argv, reason):
    with pytest.raises(SystemExit) as error:
        pipeline.main(["sample", "--out", str(tmp_path / "x.ogg"), *argv])
    assert str(error.value) == f"sample: {reason}"
    assert list(tmp_path.iterdir()) == []
