"""sample for game audio folders: long pieces, seamless loops, loudness, formats, moods, pictures.

The shipped generator will be replaced by better ones, so the tests that use it check
properties (lengths, loudness, seams, directions of the moods), never particular notes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import soundfile
from mutagen.flac import FLAC
from mutagen.oggvorbis import OggVorbis
from PIL import Image

import pipeline
from img2midi import ONSET_THRESHOLD, roll_to_notes
from img2midi.audio import FORMATS, fit_length, fold_loop, write_track
from img2midi.loudness import integrated_loudness, limit, master, true_peak_db
from img2midi.mood import (
    MOODS,
    PROFILES,
    arrange,
    colour,
    fit_tonic,
    keep_strongest,
    mean_velocity,
    merge_overlaps,
    pitch_class_histogram,
)
from midi2img.core import notes_to_roll
from midi2img.spec import DEFAULT_VELOCITY, N_PITCHES, WINDOW_STEPS, pitch_to_row
from model.longform import (
    ANCHOR_WINDOWS,
    OVERLAP_STEPS,
    anchor_count,
    join_windows,
    latent_path,
    roll_to_loop_notes,
    rotate_loop_notes,
    window_starts,
)
from model.sample import sample

REPO = Path(__file__).resolve().parents[1]
RATE = 44100


def angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.arccos(np.clip(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)), -1, 1)))


def seam_figures(audio: np.ndarray, rate: int) -> tuple[float, float, float]:
    """(jump across the loop seam, 99.9th percentile of all jumps, dB between the RMS of the last and first 100 ms)."""
    jumps = np.abs(np.diff(audio))
    window = int(0.1 * rate)
    rms_db = lambda part: 10 * np.log10(np.mean(part ** 2) + 1e-20)  # noqa: E731
    return (abs(audio[0] - audio[-1]), float(np.percentile(jumps, 99.9)),
            abs(rms_db(audio[-window:]) - rms_db(audio[:window])))


# --- latent path and windows -------------------------------------------------------------------


@pytest.mark.parametrize("loop", [False, True])
def test_latent_path_moves_in_small_steps_and_a_loop_returns_to_its_start(loop):
    n = 9
    count = anchor_count(n, loop)
    anchors = np.random.default_rng(0).standard_normal((count, 14)).astype(np.float32)
    path = latent_path(anchors, n, loop)
    assert path.shape == (n, 14)
    np.testing.assert_allclose(path[0], anchors[0])
    ring = np.concatenate([path, path[:1]]) if loop else path
    steps = [angle(a, b) for a, b in zip(ring[:-1], ring[1:], strict=True)]
    widest = max(angle(anchors[k], anchors[(k + 1) % count]) for k in range(count if loop else count - 1))
    assert max(steps) <= widest / ANCHOR_WINDOWS + 1e-4  # a third of the way between anchors per window
    assert min(steps) > 0.05  # ...and moving: neighbours are related, not repeats
    if not loop:
        np.testing.assert_allclose(path[ANCHOR_WINDOWS], anchors[1], rtol=1e-6)


@pytest.mark.parametrize("total", [40, 300, 301, 700, 1500])
@pytest.mark.parametrize("loop", [False, True])
def test_windows_cover_the_piece_and_overlap_by_the_crossfade(total, loop):
    starts = window_starts(total, loop)
    assert starts[0] == 0 and np.all(np.diff(starts) > 0)
    if loop:
        gaps = np.diff(np.append(starts, total))  # the last window runs on into the first
    else:
        gaps = np.diff(starts)
        assert starts[-1] + WINDOW_STEPS == total or (len(starts) == 1 and total <= WINDOW_STEPS)
    assert np.all(WINDOW_STEPS - gaps >= OVERLAP_STEPS)


def held_note_rolls(count: int, pitch: int) -> np.ndarray:
    """Windows that each hold one pitch from their first column to their last, onset pixel first."""
    rolls = np.zeros((count, N_PITCHES, WINDOW_STEPS), np.uint8)
    rolls[:, pitch_to_row(pitch), :] = 128
    rolls[:, pitch_to_row(pitch), 0] = 255
    return rolls


def test_a_note_both_windows_hold_continues_through_the_join():
    starts, total = np.array([0, 268]), 568
    piece = join_windows(held_note_rolls(2, 60), starts, total, loop=False)
    assert roll_to_notes(piece).tolist() == [[60, 0, total, 127]]  # no gap, no second attack at the join


def test_agreeing_windows_give_exactly_their_notes_no_gap_no_pile():
    pattern = np.tile([255, 128, 0, 0], WINDOW_STEPS // 4).astype(np.uint8)  # a note each beat, the same grid
    rolls = np.zeros((2, N_PITCHES, WINDOW_STEPS), np.uint8)
    rolls[:, pitch_to_row(64)] = pattern
    starts, total = np.array([0, 268]), 568
    notes = roll_to_notes(join_windows(rolls, starts, total, loop=False))
    assert notes.tolist() == [[64, s, s + 2, 127] for s in range(0, total, 4)]


def test_a_note_only_one_window_has_fades_out_inside_the_overlap():
    rolls = held_note_rolls(2, 60)
    rolls[1] = 0  # the second window is silent
    starts, total = np.array([0, 268]), 568
    (note,) = roll_to_notes(join_windows(rolls, starts, total, loop=False)).tolist()
    assert note[1] == 0 and 268 < note[2] < WINDOW_STEPS  # neither cut at the first window's edge nor held on


def test_a_loop_shorter_than_a_window_wraps_only_the_overlap_onto_its_start():
    window = np.random.default_rng(0).integers(0, 256, (1, N_PITCHES, WINDOW_STEPS)).astype(np.uint8)
    total = 40
    piece = join_windows(window, window_starts(total, loop=True), total, loop=True)
    np.testing.assert_array_equal(piece[:, OVERLAP_STEPS:], window[0, :, OVERLAP_STEPS:total])
    head, after_end = window[0, :, :OVERLAP_STEPS], window[0, :, total:total + OVERLAP_STEPS]
    assert np.all(piece[:, :OVERLAP_STEPS] >= np.minimum(head, after_end))  # a cross-fade of the two,
    assert np.all(piece[:, :OVERLAP_STEPS] <= np.maximum(head, after_end))  # not the window averaged over itself


def test_a_loop_joins_its_last_window_into_its_first_and_decodes_as_a_ring():
    total = 500
    starts = window_starts(total, loop=True)
    piece = join_windows(held_note_rolls(len(starts), 48), starts, total, loop=True)
    # held all round: one note, no re-attack; the cross-fades soften every window's onset into sustain,
    # so it is a drone with no attack in the roll, at the default velocity
    assert roll_to_loop_notes(piece).tolist() == [[48, 0, total, DEFAULT_VELOCITY]]

    ring = np.zeros((N_PITCHES, 40), np.uint8)
    ring[pitch_to_row(60), [36, 37, 38, 39, 0, 1, 2]] = [255, 128, 128, 128, 128, 128, 128]
    ring[pitch_to_row(72), 10:14] = [224, 128, 128, 128]
    ring[pitch_to_row(50), :] = 128  # sounds all round without an onset: a drone, at the default velocity
    assert roll_to_loop_notes(ring).tolist() == [[50, 0, 40, DEFAULT_VELOCITY], [72, 10, 14, 65], [60, 36, 43, 127]]
    assert rotate_loop_notes(roll_to_loop_notes(ring), 36, 40).tolist() == [
        [60, 0, 7, 127], [50, 4, 44, DEFAULT_VELOCITY], [72, 14, 18, 65]]


# --- moods: note edits ---------------------------------------------------------------------------


def test_keep_strongest_keeps_at_most_n_notes_a_beat_the_strongest():
    notes = np.array([[60, 0, 1, 10], [62, 1, 2, 20], [64, 2, 3, 30], [65, 4, 5, 40], [67, 9, 10, 50]])
    kept = keep_strongest(notes, np.array([5, 9, 7, 1, 1]), per_beat=2, steps_per_beat=4)
    assert kept.tolist() == [[62, 1, 2, 20], [64, 2, 3, 30], [65, 4, 5, 40], [67, 9, 10, 50]]


def test_merge_overlaps_cuts_at_the_next_onset_also_across_a_loop_point():
    notes = np.array([[60, 0, 8, 10], [60, 4, 6, 20], [60, 4, 5, 30], [62, 36, 45, 40], [62, 2, 3, 50]])
    assert merge_overlaps(notes).tolist() == [[60, 0, 4, 10], [62, 2, 3, 50], [60, 4, 6, 20], [62, 36, 45, 40]]
    assert merge_overlaps(notes, loop_steps=40).tolist() == [[60, 0, 4, 10], [62, 2, 3, 50], [60, 4, 6, 20],
                                                             [62, 36, 42, 40]]


def varied_roll(rng: np.random.Generator, n_steps: int = 240) -> np.ndarray:
    """A roll of random notes with recorded-like dynamics: velocity mean 64, sd 15."""
    starts = rng.integers(0, n_steps - 8, 300)
    velocities = np.clip(np.rint(rng.normal(64, 15, 300)), 1, 127)
    notes = np.stack([rng.integers(40, 90, 300), starts, starts + rng.integers(1, 8, 300), velocities], axis=1)
    return notes_to_roll(merge_overlaps(notes.astype(np.int64)), n_steps)


@pytest.mark.parametrize("name", list(MOODS))
def test_a_mood_sets_the_mean_velocity_and_keeps_the_dynamics(name):
    mood = MOODS[name]
    roll = varied_roll(np.random.default_rng(5))
    decoded = roll_to_notes(roll, mood.threshold)
    notes = arrange(decoded, roll, mood)
    assert abs(notes[:, 3].mean() - mood.velocity) <= 0.5  # the mood's loudness...
    # ...and the dynamics the roll had, not one velocity: the mood keeps some notes (the strongest, so the
    # spread shrinks a little) and moves every kept note's velocity by one offset (clipped to 1..127)
    assert notes[:, 3].std() >= 0.8 * decoded[:, 3].std() > 10 and len(np.unique(notes[:, 3])) > 10
    after = Counter(notes[:, 3].tolist())
    assert any(not after - Counter(np.clip(decoded[:, 3] + offset, 1, 127).tolist()) for offset in range(-126, 127))


def test_mean_velocity_moves_all_notes_by_one_offset_and_clips_at_the_ends():
    notes = np.array([[60, 0, 1, 50], [62, 1, 2, 70], [64, 2, 3, 90]])
    assert mean_velocity(notes, 56)[:, 3].tolist() == [36, 56, 76]
    assert mean_velocity(notes, 120)[:, 3].tolist() == [106, 126, 127]  # clipped: the nearest mean, 119.67
    assert mean_velocity(notes, 127)[:, 3].tolist() == [127, 127, 127]
    assert mean_velocity(np.zeros((0, 4), np.int64), 64).shape == (0, 4)


def test_sample_without_a_mood_writes_the_velocities_as_decoded():
    roll = varied_roll(np.random.default_rng(6))
    decoded = roll_to_notes(roll)
    notes = arrange(decoded, roll, None)
    np.testing.assert_array_equal(notes, merge_overlaps(decoded))
    assert notes[:, 3].std() > 10


@pytest.mark.parametrize("name", list(MOODS))
def test_colour_puts_notes_in_the_mood_key_and_register(name):
    mood = MOODS[name]
    rng = np.random.default_rng(1)
    pitches = rng.choice([61, 63, 65, 66, 68, 70, 72], size=200) + rng.choice([-12, 0, 12], size=200)  # C# major
    starts = np.arange(200) * 2
    notes = np.stack([pitches, starts, starts + rng.integers(1, 6, 200), rng.integers(1, 128, 200)], axis=1)
    coloured = colour(notes, mood)
    assert set(np.unique(coloured[:, 0] % 12)) <= {(mood.tonic + d) % 12 for d in mood.scale}
    assert fit_tonic(coloured, mood.mode) == mood.tonic
    assert abs(coloured[:, 0].mean() - mood.centre) <= 6
    assert np.all(np.abs(coloured[:, 0] - mood.centre) <= mood.spread)
    np.testing.assert_array_equal(coloured[:, 1:], notes[:, 1:])  # only pitches move (not times, not velocities)


# --- audio ---------------------------------------------------------------------------------------


def piano_like(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Sharp attacks with exponential decays at random times and pitches: a piano's crest factor."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    audio = np.zeros_like(t)
    for onset in rng.uniform(0, seconds, int(seconds * 3)):
        u = np.clip(t - onset, 0, None)
        audio += (t >= onset) * rng.uniform(0.05, 0.4) * np.exp(-3 * u) * np.sin(2 * np.pi * rng.uniform(110, 880) * u)
    return audio


def test_fold_loop_is_the_music_played_without_end():
    rng = np.random.default_rng(0)
    one_round, length = rng.standard_normal(2500), 1000  # renders run past the loop's end
    folded = fold_loop(one_round, length)
    endless = np.zeros(10 * length)
    for k in range(10):  # the same round started every `length` samples
        part = endless[k * length:k * length + len(one_round)]
        part += one_round[:len(part)]
    np.testing.assert_allclose(folded, endless[5 * length:6 * length])
    ending = fit_length(one_round, 3000, RATE)
    assert len(ending) == 3000 and ending[-1] == 0


def test_limiter_keeps_true_peak_under_the_ceiling_and_master_hits_the_loudness():
    audio = piano_like(8)
    for circular in (False, True):
        limited = limit(audio * 4, RATE, -3.0, circular)
        assert true_peak_db(limited, circular) <= -3.0 + 0.05
        mastered = master(audio, RATE, -16.0, -1.5, circular)
        assert abs(integrated_loudness(mastered, RATE) - -16.0) < 0.1
        assert true_peak_db(mastered, circular) <= -1.5 + 0.05


@pytest.mark.parametrize("audio_format", list(FORMATS))
def test_written_tracks_decode_at_the_loudness_with_loop_points(tmp_path, audio_format):
    path = tmp_path / f"loop.{audio_format}"
    measured = write_track(piano_like(6), path, RATE, audio_format, -16.0, loop=True)
    decoded, rate = soundfile.read(path, dtype="float64")
    assert rate == RATE and len(decoded) == 6 * RATE
    assert abs(integrated_loudness(decoded, rate) - -16.0) <= 0.5 and true_peak_db(decoded) <= -1.0
    assert measured.true_peak_db == pytest.approx(true_peak_db(decoded))
    if audio_format != "wav":
        tags = OggVorbis(path) if audio_format == "ogg" else FLAC(path)
        assert (tags["LOOPSTART"], tags["LOOPLENGTH"]) == (["0"], [str(6 * RATE)])
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


# --- the sample stage with the shipped generator -------------------------------------------------


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
            "mean_pitch": float(np.mean([n.pitch for n in notes])), "histogram": pitch_class_histogram(array)}


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
        major = np.corrcoef(histogram, np.roll(PROFILES["major"], tonic))[0, 1]
        minor = np.corrcoef(histogram, np.roll(PROFILES["minor"], tonic))[0, 1]
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
        assert len(audio) == 12 * rate and audio[-1] == 0  # not a loop: rings out and fades to zero
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
    (["--out", "x.ogg", "--duration", "2"], "--duration 2 s is out of range"),
    (["--out", "x.ogg", "--sample-rate", "1000"], "--sample-rate 1000 Hz is out of range"),
    (["--out", "x.ogg", "--lufs", "0"], "--lufs 0 is out of range"),
])
def test_contradictory_or_bad_options_get_one_line_before_any_work(tmp_path, argv, reason):
    argv = [a.replace("x.", str(tmp_path / "x.")) for a in argv]
    with pytest.raises(SystemExit) as error:
        pipeline.main(["sample", *argv])
    message = str(error.value)
    assert message.startswith("sample: ") and reason in message and "\n" not in message
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


def test_a_generator_that_draws_no_velocities_plays_at_the_default_velocity(tmp_path):
    """The shipped generator was trained before onsets carried velocities: every onset is 255, which
    would decode as the loudest; `sample` plays such a generator's notes at DEFAULT_VELOCITY instead."""
    from midi2img.spec import DEFAULT_VELOCITY
    from model.sample import draws_velocities, load_generator, sample

    shipped = Path(__file__).resolve().parents[1] / "pretrained" / "generator.keras"
    assert not draws_velocities(load_generator(shipped))
    written = sample(tmp_path / "song.mid", shipped, audio=False)
    velocities = {n.velocity for n in pretty_midi.PrettyMIDI(str(written[0])).instruments[0].notes}
    assert velocities == {DEFAULT_VELOCITY}
