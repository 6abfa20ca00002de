"""Starting from the user's music (model/primer.py, model/invert.py): continue, variations, morph, bad primers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from conftest import STEP, write_midi

import pipeline
from img2midi.core import roll_to_notes
from img2midi.mood import into_key, key_of
from model.checkpoint import load_generator
from model.generate import generate_rolls, latent_dim, latents
from model.invert import invert, onset_f1

QUIET = ["--no-audio"]


def theme(path: Path, bars: int = 4, tonic: int = 62) -> Path:
    """A little tune in D major (or on `tonic`): a scale up and down over a held chord, one bar each."""
    notes = []
    for bar in range(bars):
        base = bar * 16 * STEP
        notes += [(tonic - 12, base, base + 16 * STEP, 70), (tonic - 5, base, base + 16 * STEP, 60)]
        for i, degree in enumerate((0, 2, 4, 5, 7, 5, 4, 2)):
            notes.append((tonic + degree, base + 2 * i * STEP, base + (2 * i + 2) * STEP, 80 + 5 * (i % 2)))
    return write_midi(path, notes)


def read(path: Path) -> list[tuple]:
    return [(n.pitch, round(n.start * 8), round(n.end * 8), n.velocity)
            for n in pretty_midi.PrettyMIDI(str(path)).instruments[0].notes]


def test_continue_begins_with_the_primer_as_written_and_goes_on(tmp_path):
    primer = theme(tmp_path / "theme.mid")  # 8 s at 120 bpm
    out = tmp_path / "c.mid"
    pipeline.main(["continue", "--primer", str(primer), "--duration", "20", "--out", str(out), *QUIET])
    notes = read(out)
    written = read(primer)
    assert sorted(n for n in notes if n[1] < 64) == sorted(written)  # the first 8 s: the primer's notes exactly
    assert len([n for n in notes if n[1] >= 64]) > 10  # and music after them
    again = tmp_path / "again.mid"
    pipeline.main(["continue", "--primer", str(primer), "--duration", "20", "--out", str(again), *QUIET])
    assert again.read_bytes() == out.read_bytes()  # same command and seed, same MIDI bytes


def test_variations_differ_and_morph_writes_a_piece(tmp_path):
    first, last = theme(tmp_path / "a.mid"), theme(tmp_path / "b.mid", tonic=57)
    out = tmp_path / "v.mid"
    pipeline.main(["sample", "--like", str(first), "--count", "3", "--variation", "0.3", "--duration", "8",
                   "--out", str(out), *QUIET])
    pieces = [out, tmp_path / "v_1.mid", tmp_path / "v_2.mid"]
    assert len({p.read_bytes() for p in pieces}) == 3
    assert all(key_of(np.array(read(p))) is not None for p in pieces)
    morph = tmp_path / "m.mid"
    pipeline.main(["morph", str(first), str(last), "--duration", "16", "--out", str(morph), *QUIET])
    assert max(n[2] for n in read(morph)) <= 16 * 8


def test_generated_notes_move_into_the_primers_key_and_register():
    rng = np.random.default_rng(0)
    notes = np.stack([rng.integers(30, 100, 200), rng.integers(0, 300, 200), rng.integers(301, 310, 200),
                      np.full(200, 64)], axis=1)
    moved = into_key(notes, 9, "minor", (0, 2, 3, 5, 7, 8, 10), centre=57, spread=12)
    assert key_of(moved)[:2] == (9, "minor") and abs(moved[:, 0].mean() - 57) < 3
    assert set((moved[:, 0] - 9) % 12) <= {0, 2, 3, 5, 7, 8, 10} and moved[:, 0].min() >= 45


def test_inversion_finds_a_generated_rolls_latent_better_than_chance():
    generator = load_generator(pipeline.SHIPPED_GENERATOR)
    rolls = generate_rolls(generator, latents(7, 2, latent_dim(generator)))
    found = invert(generator, rolls)
    random_f1 = np.mean([onset_f1(roll_to_notes(r), roll_to_notes(t))
                         for r, t in zip(generate_rolls(generator, latents(8, 2, 14)), rolls, strict=True)])
    assert found.latent.shape == (2, 14) and (found.onset_f1 > random_f1 + 0.15).all(), (found.onset_f1, random_f1)


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: write_midi(p, []), "no notes; a primer needs piano notes"),
    (lambda p: write_midi(p, [], drum_notes=[(36, 0, 120)]), "only drums (1 notes on channel 10)"),
    (lambda p: p.write_text("not music") and p, "not a MIDI file"),
])
def test_a_primer_that_cannot_be_one_gets_one_line(tmp_path, make, reason):
    primer = make(tmp_path / "p.mid")
    with pytest.raises(SystemExit) as error:
        pipeline.main(["continue", "--primer", str(primer), "--duration", "20", "--out", str(tmp_path / "x.mid")])
    message = str(error.value)
    assert message.startswith(f"continue: {primer}: ") and reason in message and "\n" not in message


def test_a_continuation_must_outlast_its_primer_and_primer_seconds_is_capped(tmp_path, capsys):
    primer = theme(tmp_path / "theme.mid")
    with pytest.raises(SystemExit) as error:
        pipeline.main(["continue", "--primer", str(primer), "--duration", "6", "--out", str(tmp_path / "x.mid")])
    assert "leaves nothing after the primer's 8.0 s" in str(error.value)
    with pytest.raises(SystemExit):
        pipeline.main(["continue", "--primer", str(primer), "--primer-seconds", "500",
                       "--out", str(tmp_path / "y.mid")])
    assert "--primer-seconds: 500 s is out of range; use 1 to 120 s" in capsys.readouterr().err
