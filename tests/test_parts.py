"""Parts of a game track (img2midi/parts.py, model/longform.splice): voices for stems, an outro's ending."""

from __future__ import annotations

import numpy as np

from img2midi.parts import VOICES, hold_final_chord, split_voices, voice_of_each_note
from midi2img.spec import N_PITCHES, STEPS_PER_BEAT
from model.longform import OVERLAP_STEPS, splice


def test_the_skyline_rule_gives_top_melody_bottom_bass_and_every_note_one_voice():
    notes = np.array([
        [48, 0, 4, 80], [64, 0, 4, 70], [67, 0, 4, 90], [72, 0, 4, 100],  # a chord: bass, harmony x2, melody
        [76, 4, 6, 90],  # alone, above middle C: melody
        [40, 6, 8, 60],  # alone, below: bass
        [50, 8, 9, 60], [55, 8, 9, 60],  # all below middle C: the lowest is bass, the other harmony
    ])
    voice = [VOICES[i] for i in voice_of_each_note(notes)]
    assert voice == ["bass", "harmony", "harmony", "melody", "melody", "bass", "bass", "harmony"]
    parts = split_voices(notes)
    assert list(parts) == list(VOICES)
    together = np.concatenate(list(parts.values()))
    assert sorted(map(tuple, together)) == sorted(map(tuple, notes))


def test_an_ending_strikes_nothing_late_and_holds_its_last_chord_to_the_end():
    notes = np.array([[60, 0, 4, 80], [64, 20, 22, 80], [67, 21, 23, 80], [60, 16, 30, 80], [72, 30, 31, 80]])
    end = 32
    held = hold_final_chord(notes, end)
    assert held[:, 1].max() < end - 2 * STEPS_PER_BEAT  # the note at step 30 is gone
    last_beat = held[held[:, 1] > held[:, 1].max() - STEPS_PER_BEAT]
    assert set(last_beat[:, 0]) == {64, 67} and (last_beat[:, 2] == end).all()
    assert [60, 0, 4, 80] in held.tolist() and [60, 16, 30, 80] in held.tolist()  # earlier notes as they were
    assert len(hold_final_chord(notes[:0], end)) == 0


def test_an_ending_holds_one_note_per_pitch():
    notes = np.array([[60, 20, 21, 80], [60, 22, 23, 80]])
    held = hold_final_chord(notes, 32)
    assert held.tolist() == [[60, 20, 21, 80], [60, 22, 32, 80]]


def test_a_splice_ends_exactly_in_the_columns_it_joins():
    rng = np.random.default_rng(0)
    part, loop = rng.integers(0, 256, (2, N_PITCHES, 100)).astype(np.uint8)
    intro = splice(part, loop, at_end=True)
    outro = splice(part, loop, at_end=False)
    np.testing.assert_array_equal(intro[:, -1], loop[:, -1])  # leads into the loop as the loop leads into itself
    np.testing.assert_array_equal(outro[:, 0], loop[:, 0])  # follows it as its next round would
    np.testing.assert_array_equal(intro[:, :-OVERLAP_STEPS], part[:, :-OVERLAP_STEPS])
    np.testing.assert_array_equal(outro[:, OVERLAP_STEPS:], part[:, OVERLAP_STEPS:])
