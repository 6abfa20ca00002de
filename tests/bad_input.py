"""Run many kinds of bad input through midi2img, img2midi, train and sample; check each gets one clear line.

    python tests/bad_input.py [--keep DIR]

midi2img and img2midi run as real `pipeline.py` processes over one folder mixing good and bad
files: every bad file must get exactly one `<stage>: <file>: <reason>` line, the good files must
still be converted, the exit status must be 1, and no traceback may appear. train and sample
cases run through `pipeline.main` in one worker process (one TensorFlow start instead of a dozen),
which prints what the command line would; one sample case also runs as a real process.
Exits 0 when every case passes. tests/test_bad_input.py runs it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from midi2img.spec import IMAGE_SHAPE  # noqa: E402
from tests.conftest import STEP, TPQ, write_midi  # noqa: E402

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def pipeline(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "pipeline.py"), *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, env=ENV, timeout=timeout)


# Runs a command as its own child and writes that child's peak resident memory (KiB) to a file. A fresh,
# small interpreter forks it: Linux carries a process's peak across exec, so a child forked straight from
# the test process (TensorFlow loaded, 1 GB) would report the test process's peak as its own.
PEAK_LAUNCHER = ("import os, subprocess, sys; child = subprocess.Popen(sys.argv[2:]); "
                 "_, status, usage = os.wait4(child.pid, 0); open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); "
                 "sys.exit(os.waitstatus_to_exitcode(status))")


def pipeline_peak(*args: object, timeout: float = 300) -> tuple[subprocess.CompletedProcess, float]:
    """`pipeline`, and the peak resident memory in MiB of that process and its workers alone."""
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder) / "peak"
        result = subprocess.run([sys.executable, "-c", PEAK_LAUNCHER, peak, sys.executable, REPO / "pipeline.py",
                                 *map(str, args)], cwd=REPO, capture_output=True, text=True, env=ENV, timeout=timeout)
        return result, int(peak.read_text()) / 1024


def vlq(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def smf(fmt: int, tracks: list[bytes], division: bytes = struct.pack(">H", 96)) -> bytes:
    """A Standard MIDI File from raw track event bytes (each gets an end-of-track)."""
    body = b"".join(b"MTrk" + struct.pack(">I", len(t) + 4) + t + b"\x00\xff\x2f\x00" for t in tracks)
    return b"MThd" + struct.pack(">IHH", 6, fmt, len(tracks)) + division + body


NOTE = b"\x00\x90\x3c\x50" + vlq(96) + b"\x80\x3c\x00"  # middle C for one beat at 96 ticks per quarter


def make_midi_cases(folder: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Write the MIDI cases; returns (bad file -> words its reason must contain, good file -> images)."""
    folder.mkdir(parents=True)
    good_notes = [(60, 0, STEP), (64, STEP, 4 * STEP), (67, 2 * STEP, 3 * STEP)]
    write_midi(folder / "good_format1.mid", good_notes)
    (folder / "good_format0.mid").write_bytes(smf(0, [NOTE]))
    (folder / "good_format2.midi").write_bytes(smf(2, [NOTE, NOTE]))
    tempos = [(i * 7, 40.0 + (i % 200)) for i in range(5000)]  # thousands of tempo changes: the grid is ticks
    write_midi(folder / "tempo_changes.mid", good_notes, tempos=tempos)
    write_midi(folder / "some_out_of_range.mid", [*good_notes, (10, 0, STEP), (127, 0, STEP)])
    write_midi(folder / "piano_and_drums.mid", good_notes, drum_notes=[(36, 0, STEP)])
    # Two hours at 120 bpm (14,400 beats): 192 windows, a chord every beat.
    long_notes = [(48 + (b % 24), b * TPQ, b * TPQ + TPQ // 2) for b in range(14_400)]
    write_midi(folder / "two_hours.mid", long_notes)
    good = {"good_format1": 1, "good_format0": 1, "good_format2": 1, "tempo_changes": 1,
            "some_out_of_range": 1, "piano_and_drums": 1, "two_hours": 192}

    valid = (folder / "good_format1.mid").read_bytes()
    bad: dict[str, str] = {}

    def put(name: str, data: bytes, reason: str) -> None:
        (folder / name).write_bytes(data)
        bad[name] = reason

    put("zero_bytes.mid", b"", "empty file")
    put("truncated.mid", valid[: len(valid) // 2], "truncated")
    put("random_bytes.mid", random.Random(1).randbytes(3000), "not a MIDI file")
    put("text.mid", b"this is a text file, not music\n", "not a MIDI file (text")
    put("png_named.midi", b"\x89PNG\r\n\x1a\n" + bytes(100), "a PNG image")
    put("header_only.mid", valid[:14], "no notes")
    write_midi(folder / "no_notes.mid", [])
    bad["no_notes.mid"] = "no notes"
    write_midi(folder / "drums_only.mid", [], drum_notes=[(36, 0, STEP), (38, STEP, 2 * STEP)])
    bad["drums_only.mid"] = "drum notes (channel 10) are skipped"
    write_midi(folder / "only_out_of_range.mid", [(10, 0, STEP), (127, 0, STEP)])
    bad["only_out_of_range.mid"] = "no notes in pitch range (2 dropped)"
    write_midi(folder / "huge_tick.mid", [(60, 2**27, 2**27 + STEP)])  # 280,000 beats
    bad["huge_tick.mid"] = "too long"
    huge_deltas = (vlq(0x0FFFFFFF) + b"\xff\x01\x00") * 30 + NOTE  # delta times that overflow 32 bits
    put("huge_delta.mid", smf(0, [huge_deltas]), "corrupt MIDI: note times overflow")
    put("smpte.mid", smf(0, [NOTE], division=bytes([0xE7, 0x28])), "SMPTE")
    put("zero_division.mid", smf(0, [NOTE], division=b"\x00\x00"), "0 ticks per quarter")
    put("chunk_past_end.mid", valid[:14] + b"MTrk" + struct.pack(">I", 10**6) + NOTE, "chunk runs past the end")
    return bad, good


def make_image_cases(folder: Path) -> dict[str, str]:
    """Write the PNG cases; good.png is the one good image. Returns bad name -> reason words."""
    folder.mkdir(parents=True)
    h, w = IMAGE_SHAPE
    roll = np.zeros(IMAGE_SHAPE, dtype=np.uint8)
    roll[66, 4:8] = [255, 128, 128, 128]
    Image.fromarray(roll, mode="L").save(folder / "good.png")
    good_bytes = (folder / "good.png").read_bytes()
    bad = {
        "wrong_size.png": "size 299x106, expected 300x106",
        "rgb.png": "mode RGB, expected 8-bit grayscale",
        "rgba.png": "mode RGBA, expected 8-bit grayscale",
        "sixteen_bit.png": "mode I;16, expected 8-bit grayscale",
        "palette.png": "mode P, expected 8-bit grayscale",
        "one_bit.png": "mode 1, expected 8-bit grayscale",
        "corrupt.png": "corrupt PNG",
        "truncated.png": "corrupt PNG",
        "not_an_image.png": "not a PNG image",
        "jpeg_named.png": "not a PNG file (JPEG image)",
        "zero_bytes.png": "empty file",
        "missing.png": "no such file",
        "a_folder.png": "is a folder",
    }
    Image.fromarray(roll[:, :299], mode="L").save(folder / "wrong_size.png")
    Image.new("RGB", (w, h), (0, 128, 255)).save(folder / "rgb.png")
    Image.new("RGBA", (w, h)).save(folder / "rgba.png")
    Image.new("I;16", (w, h)).save(folder / "sixteen_bit.png")
    Image.new("P", (w, h)).save(folder / "palette.png")
    Image.new("1", (w, h)).save(folder / "one_bit.png")
    corrupt = bytearray(good_bytes)
    idat = corrupt.index(b"IDAT")
    corrupt[idat + 8: idat + 20] = bytes(12)  # zlib stream damaged, header intact
    (folder / "corrupt.png").write_bytes(bytes(corrupt))
    (folder / "truncated.png").write_bytes(good_bytes[: idat + 12])
    (folder / "not_an_image.png").write_text("just some text with a .png name\n")
    Image.fromarray(roll, mode="L").save(folder / "jpeg_named.png", format="JPEG")
    (folder / "zero_bytes.png").write_bytes(b"")
    (folder / "a_folder.png").mkdir()
    return bad


def one_line_per_file(stage: str, stderr: str, folder: Path, expected: dict[str, str]) -> list[str]:
    """Problems with stage's stderr: each bad file exactly one line holding its reason; no traceback."""
    problems = []
    lines = [line for line in stderr.splitlines() if line.strip()]
    if "Traceback" in stderr:
        problems.append(f"{stage}: traceback in output")
    for name, reason in expected.items():
        mine = [line for line in lines if line.startswith(f"{stage}: {folder / name}: ")]
        if len(mine) != 1:
            problems.append(f"{stage}: {name}: expected one line, got {len(mine)}: {mine}")
        elif reason not in mine[0]:
            problems.append(f"{stage}: {name}: reason {mine[0]!r} lacks {reason!r}")
    return problems


def check_midi2img(work: Path) -> tuple[list[str], list[str]]:
    folder = work / "midi"
    bad, good = make_midi_cases(folder)
    out = work / "midi_png"
    result, peak_mib = pipeline_peak("midi2img", "--midi-dir", folder, "--out-dir", out, "--workers", "2")
    problems = one_line_per_file("midi2img", result.stderr, folder, bad)
    if result.returncode != 1:
        problems.append(f"midi2img: exit status {result.returncode}, expected 1")
    for stem, images in good.items():
        made = len(list(out.glob(f"{stem}_*.png")))
        if made != images:
            problems.append(f"midi2img: {stem}: {made} images, expected {images}")
    from midi2img import read_midi_notes

    if not np.array_equal(read_midi_notes(folder / "tempo_changes.mid")[0],
                          read_midi_notes(folder / "good_format1.mid")[0]):
        problems.append("midi2img: tempo_changes.mid: notes moved by tempo changes")
    if peak_mib > 1024:
        problems.append(f"midi2img: peak memory {peak_mib:.0f} MiB")
    cases = [f"midi2img {name}: {reason}" for name, reason in bad.items()]
    cases += [f"midi2img {stem}: converts ({n} images)" for stem, n in good.items()]
    cases.append(f"midi2img peak RSS of a worker: {peak_mib:.0f} MiB")
    return cases, problems


def check_img2midi(work: Path) -> tuple[list[str], list[str]]:
    folder = work / "png"
    bad = make_image_cases(folder)
    out = work / "png_mid"
    result = pipeline("img2midi", folder / "good.png", *(folder / name for name in bad), "--out-dir", out)
    problems = one_line_per_file("img2midi", result.stderr, folder, bad)
    if result.returncode != 1:
        problems.append(f"img2midi: exit status {result.returncode}, expected 1")
    if sorted(p.name for p in out.glob("*.mid")) != ["good.mid"]:
        problems.append(f"img2midi: outputs {sorted(p.name for p in out.iterdir())}, expected good.mid only")
    return [f"img2midi {name}: {reason}" for name, reason in bad.items()] + ["img2midi good.png: converts"], problems


MODEL_SCRIPT = """
import sys, keras
folder = sys.argv[1]
keras.Sequential([keras.Input((4,)), keras.layers.Dense(106 * 300), keras.layers.Reshape((106, 300, 1))]).save(
    folder + "/good.keras")
keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)]).save(folder + "/wrong_shape.keras")
"""


def model_and_train_cases(work: Path) -> list[tuple[str, list[str], str]]:
    """(name, pipeline.py arguments, words the last stderr line must hold) for train and sample."""
    models = work / "models"
    good = models / "good.keras"  # built by MODEL_SCRIPT: a valid generator-shaped model
    data = good.read_bytes()
    (models / "truncated.keras").write_bytes(data[: len(data) // 2])
    (models / "garbage.keras").write_bytes(random.Random(2).randbytes(4096))
    (models / "zero_bytes.keras").write_bytes(b"")
    (models / "song.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60")  # a MIDI header, not a model
    (models / "empty_run").mkdir()
    empty = work / "train_empty"
    empty.mkdir()
    only_bad = work / "train_only_bad"
    only_bad.mkdir()
    Image.new("RGB", (300, 106)).save(only_bad / "rgb.png")
    (only_bad / "text.png").write_text("not an image")
    Image.fromarray(np.zeros((106, 200), np.uint8), mode="L").save(only_bad / "narrow.png")
    out = work / "sample" / "s.mid"
    return [
        ("train: empty folder", ["train", "--images", empty], "no .png files"),
        ("train: missing folder", ["train", "--images", work / "nowhere"], "does not exist"),
        ("train: only unusable images", ["train", "--images", only_bad, "--run-dir", work / "run_bad",
                                         "--preset", "tiny"], "no usable image"),
        ("sample: missing model", ["sample", "--model", models / "missing.keras", "--out", out], "not found"),
        ("sample: zero-byte model", ["sample", "--model", models / "zero_bytes.keras", "--out", out], "empty file"),
        ("sample: truncated model", ["sample", "--model", models / "truncated.keras", "--out", out],
         "truncated or something else"),
        ("sample: random bytes as model", ["sample", "--model", models / "garbage.keras", "--out", out],
         "not a .keras model file"),
        ("sample: a MIDI file as model", ["sample", "--model", models / "song.mid", "--out", out],
         "not a .keras model file (a generator is saved as NAME.keras"),
        ("sample: wrong-shape model", ["sample", "--model", models / "wrong_shape.keras", "--out", out],
         "not a latent vector"),
        ("sample: run folder without checkpoint", ["sample", "--model", models / "empty_run", "--out", out],
         "checkpoint in"),
        ("sample: output not .mid", ["sample", "--model", good, "--out", work / "s.txt"], "should end in .mid"),
    ]


def run_in_process(cases_path: Path) -> None:
    """Worker: run each case through pipeline.main, report exit status, stderr and any traceback as JSON."""
    import traceback

    import pipeline as cli

    results = []
    for name, argv, _ in json.loads(cases_path.read_text()):
        err = io.StringIO()
        code, trace = 0, ""
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = cli.main(argv)
            except SystemExit as stop:
                if isinstance(stop.code, str):
                    print(stop.code, file=sys.stderr)
                    code = 1
                else:
                    code = stop.code or 0
            except BaseException:  # the point of the script: any of these is a failure
                trace = traceback.format_exc()
                code = 1
        results.append({"name": name, "code": code, "stderr": err.getvalue(), "traceback": trace})
    print(json.dumps(results))


def check_train_and_sample(work: Path) -> tuple[list[str], list[str]]:
    models = work / "models"
    models.mkdir()
    built = subprocess.run([sys.executable, "-c", MODEL_SCRIPT, str(models)], capture_output=True, text=True, env=ENV)
    if built.returncode:
        return [], [f"could not build test models: {built.stderr[-500:]}"]
    cases = model_and_train_cases(work)
    spec = work / "cases.json"
    spec.write_text(json.dumps([(n, [str(a) for a in argv], w) for n, argv, w in cases]))
    worker = subprocess.run([sys.executable, __file__, "--worker", str(spec)], capture_output=True, text=True,
                            env=ENV, cwd=REPO, timeout=300)
    problems = []
    try:
        results = json.loads(worker.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return [], [f"worker failed: {worker.stderr[-2000:]}"]
    for (name, _, words), result in zip(cases, results, strict=True):
        lines = [line for line in result["stderr"].splitlines() if line.strip()]
        if result["traceback"]:
            problems.append(f"{name}: traceback: {result['traceback'][-500:]}")
        elif result["code"] != 1:
            problems.append(f"{name}: exit status {result['code']}, expected 1")
        elif not lines or words not in lines[-1]:
            problems.append(f"{name}: last line {lines[-1:]!r} lacks {words!r}")
    # One case as a real process: the message, the exit status, and no traceback from the interpreter.
    real = pipeline("sample", "--model", work / "models" / "truncated.keras", "--out", work / "real.mid")
    last = real.stderr.strip().splitlines()[-1:] or [""]
    if real.returncode != 1 or "Traceback" in real.stderr or "truncated.keras" not in last[0]:
        problems.append(f"sample (real process): exit {real.returncode}, stderr {real.stderr[-500:]!r}")
    return [f"{name}: {words}" for name, _, words in cases] + ["sample (real process): truncated model"], problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="build the cases here and keep them (default: a temp folder)")
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        run_in_process(args.worker)
        return 0
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pianola-bad-input-") as temporary:
        work = args.keep or Path(temporary)
        work.mkdir(parents=True, exist_ok=True)
        cases, problems = [], []
        for check in (check_midi2img, check_img2midi, check_train_and_sample):
            more_cases, more_problems = check(work)
            cases += more_cases
            problems += more_problems
    for case in cases:
        print(f"  {case}")
    print(f"bad_input: {len(cases)} cases, {len(problems)} problems, {time.perf_counter() - began:.1f} s")
    for problem in problems:
        print(f"PROBLEM {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
