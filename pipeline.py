"""pianola's command line: parses arguments and calls the stages, nothing more.

    python pipeline.py download                             fetch and unpack the MAESTRO MIDI zip (verified)
    python pipeline.py midi2img                             MIDI files -> 106x300 PNG piano rolls
    python pipeline.py img2midi IMAGE...                    PNG piano rolls -> MIDI files
    python pipeline.py train                                train the DCGAN on the PNG rolls
    python pipeline.py evaluate                             measure a generator's music against real rolls
    python pipeline.py sample --out song.ogg                generate music -> MIDI, WAV/OGG/FLAC and PNG
    python pipeline.py continue --primer A.mid --out x.ogg  your piano MIDI, then generated music
    python pipeline.py morph A.mid B.mid --out x.ogg        a piece that starts like A and arrives at B
    python pipeline.py studio                               a local web page to make and audition pieces
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import NoReturn

from midi2img.spec import STEPS_PER_BEAT
from model.options import DRAFTS, DYNAMICS, FORMATS, LOUDNESS_PRESETS, MOODS, RANGES, out_of_range, target_lufs

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter is no use to a user

SHIPPED_GENERATOR = Path(__file__).resolve().parent / "pretrained" / "generator.keras"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _level(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 255:
        raise argparse.ArgumentTypeError(f"must be a pixel level in 1..255, got {value}")
    return value


def _within(name: str):
    """An argument type: a number within RANGES[name], else one line saying the range."""
    kind = RANGES[name].kind

    def parse(text: str) -> float:
        value = kind(text)
        reason = out_of_range(name, value)
        if reason:
            raise argparse.ArgumentTypeError(reason)
        return value

    return parse


def _add_piece_options(p: argparse.ArgumentParser) -> None:
    """The options of every command that writes pieces: sample, continue, morph."""
    p.add_argument("--out", type=Path, default=None,
                   help="output path ending in .mid, .wav, .ogg or .flac; the MIDI, the audio, a .png of the piece "
                        "(and with --loop a .loop.json) are written beside it with the same stem (required)")
    p.add_argument("--model", type=Path, default=SHIPPED_GENERATOR,
                   help="generator .keras file or a run folder (default: the shipped pretrained generator)")
    p.add_argument("--count", type=_positive_int, default=1,
                   help="number of variations (song, song_1, ...) and, above 1, a contact sheet song_contact.png")
    p.add_argument("--seed", type=int, default=0, help="same seed, same MIDI bytes (default: %(default)s)")
    p.add_argument("--duration", type=_within("duration"), default=None,
                   help="length in seconds, 4 to 1200 (default: one generated image, plus 1 s to ring out)")
    p.add_argument("--loop", action="store_true",
                   help="a seamless loop: LOOPSTART/LOOPLENGTH tags (OGG, FLAC) and a .loop.json sidecar")
    p.add_argument("--style", nargs="?", const="", default=None, metavar="STYLE",
                   help="with a generator trained with --styles: an era or composer (romantic, chopin); with one "
                        "trained with --textures: texture words (sparse+soft); or a schedule such as "
                        "baroque:30,romantic:60; alone, lists them (default: drawn in the training rolls' "
                        "proportions)")
    p.add_argument("--drafts", type=_within("drafts"), default=DRAFTS,
                   help="with a --style of eras only (baroque, baroque:30,romantic:60) in sample: draft each piece "
                        "this many times and keep the one an era critic finds most like them (model/eracritic.py); "
                        "1 keeps the first (default: %(default)s)")
    p.add_argument("--mood", choices=MOODS, default=None,
                   help="preset tempo, mean velocity (dynamics kept), density, register and key (table in README.md)")
    p.add_argument("--dynamics", choices=DYNAMICS, default="played",
                   help="played: a pianist's dynamics from the notes (img2midi/dynamics.py, the default); drawn: "
                        "the velocities the generator drew, for one that draws them")
    p.add_argument("--bpm", type=_within("bpm"), default=None,
                   help="tempo, 20 to 400 (default: the primer's first tempo, else the mood's, else 120)")
    p.add_argument("--transpose", type=_within("transpose"), default=0,
                   help="semitones up (negative: down), after the mood; -24 to 24")
    p.add_argument("--threshold", type=_level, default=None,
                   help="pixel level from which a generated pixel sounds (default: the mood's, else the decoder's)")
    p.add_argument("--format", dest="audio_format", choices=FORMATS, default=None,
                   help="audio format (default: --out's suffix; wav when --out is .mid)")
    p.add_argument("--sample-rate", type=_within("sample_rate"), default=44100,
                   help="audio sample rate in Hz, 8000 to 96000 (default: %(default)s)")
    p.add_argument("--intro", type=_within("intro"), default=0.0,
                   help="with --loop: seconds of music that lead into the loop, played once (LOOPSTART after it)")
    p.add_argument("--outro", type=_within("outro"), default=0.0,
                   help="with --loop: seconds of music that follow the loop and end on a held chord")
    p.add_argument("--stems", action="store_true",
                   help="also write the bass, harmony and melody voices apart (song_bass.*, ...), each as long "
                        "as the mix and given its gain, so that they sum to it")
    p.add_argument("--channels", type=int, choices=(1, 2), default=2, help="2 for stereo (default), 1 for mono")
    loudness = p.add_mutually_exclusive_group()
    loudness.add_argument("--lufs", type=_within("lufs"), default=None,
                          help="integrated loudness target, -36 to -10; true peak at most -1 dBTP (default: -16)")
    loudness.add_argument("--loudness", choices=tuple(LOUDNESS_PRESETS), default=None,
                          help="a platform's loudness: " + ", ".join(f"{name} {lufs:g} LUFS" for name, lufs
                                                                     in LOUDNESS_PRESETS.items()))
    p.add_argument("--soundfont", type=Path, default=None,
                   help="SF2 to render with (default: FluidR3 GM where installed, else pretty_midi's TimGM6mb)")
    p.add_argument("--no-audio", dest="audio", action="store_false", help="write MIDI and picture only")


class _Parser(argparse.ArgumentParser):
    """Refuses bad arguments in one line, without argparse's screenful of usage before it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("download", help="download, verify and unpack the MAESTRO MIDI zip")
    p.add_argument("--version", dest="maestro_version", choices=("2.0.0", "3.0.0"), default="2.0.0",
                   help="MAESTRO release (default: %(default)s)")
    p.add_argument("--dir", type=Path, default=Path("data"),
                   help="the zip and its folder maestro-vVERSION go here (default: %(default)s)")

    p = commands.add_parser("midi2img", help="rasterize MIDI files into PNG piano rolls")
    p.add_argument("--midi-dir", type=Path, default=Path("data/maestro-v2.0.0"),
                   help="folder searched recursively for .mid/.midi (default: %(default)s)")
    p.add_argument("--out-dir", type=Path, default=Path("data/images"),
                   help="where PNGs go; train/validation/test subfolders when the MAESTRO CSV is found "
                        "(default: %(default)s)")
    p.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                   help="processes (default: all %(default)s cores)")
    p.add_argument("--steps-per-beat", type=_positive_int, default=STEPS_PER_BEAT,
                   help="columns per beat of the file's tempo map (default: %(default)s, sixteenth notes)")
    p.add_argument("--no-sustain", dest="sustain", action="store_false",
                   help="ignore the sustain pedal (CC64) instead of extending note ends")

    p = commands.add_parser("img2midi", help="decode PNG piano rolls into MIDI files")
    p.add_argument("images", type=Path, nargs="+", help="PNG files (106x300 grayscale)")
    p.add_argument("--out-dir", type=Path, default=Path("."), help="where the .mid files go (default: %(default)s)")
    p.add_argument("--bpm", type=float, default=120.0, help="tempo written to the MIDI (default: %(default)s)")
    p.add_argument("--steps-per-beat", type=_positive_int, default=STEPS_PER_BEAT)
    p.add_argument("--threshold", type=_level, default=None,
                   help="pixel level from which a pixel sounds (default: the decoder's documented level)")

    p = commands.add_parser("train", help="train the DCGAN on PNG piano rolls")
    p.add_argument("--images", type=Path, default=Path("data/images/train"),
                   help="folder of PNG rolls (default: %(default)s)")
    p.add_argument("--run-dir", type=Path, default=Path("runs/default"),
                   help="checkpoints, samples and the loss log go here (default: %(default)s)")
    p.add_argument("--preset", default="default",
                   help="model/training preset: default, seed2023 (the original model, as a baseline) "
                        "or tiny (seconds on a CPU)")
    p.add_argument("--validation-images", type=Path, default=None,
                   help="real rolls that score each checkpoint; the best is kept in RUN_DIR/best "
                        "(default: a validation folder beside --images)")
    p.add_argument("--validation-rolls", type=_count, default=None,
                   help="rolls per checkpoint score, 0 for none (default: 256)")
    p.add_argument("--latent-dim", type=_positive_int, default=None, help="latent size (default: 14)")
    p.add_argument("--batch-size", type=_positive_int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--max-steps", type=_positive_int, default=None, help="stop after this many steps")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop when the run has trained this long, resumed parts included")
    p.add_argument("--balance-tol", type=float, default=None,
                   help="stop when moving averages of D(real) and D(fake) stay this close to 0.5 (default: 0.05)")
    p.add_argument("--patience", type=_positive_int, default=None,
                   help="...for this many consecutive steps (default: 500)")
    p.add_argument("--checkpoint-every", type=_positive_int, default=None, help="steps between checkpoints")
    p.add_argument("--keep", type=_positive_int, default=None, help="checkpoints kept on disk (default: 3)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --run-dir")
    p.add_argument("--init-from", type=Path, default=None, metavar="CHECKPOINT",
                   help="start a new run from this checkpoint folder's weights (runs/x/checkpoints/step_N), "
                        "for a run whose discriminator gains a view (--set beat_view=true), or from a generator "
                        "file built alike (pretrained/generator.keras; D starts afresh)")
    p.add_argument("--styles", action="store_true",
                   help="condition a new run on the era and composer classes of styles.csv beside --images, "
                        "so that `sample --style` can ask for one")
    p.add_argument("--textures", action="store_true",
                   help="condition a new run on each image's texture (density, pitch span, loudness, each in "
                        "thirds), so that `sample --style sparse+soft` can ask for one")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="NAME=VALUE",
                   help="any other TrainConfig setting (model/config.py), e.g. --set input_noise=0; repeatable")

    p = commands.add_parser("evaluate", help="compare a generator's rolls with real ones; writes a report")
    p.add_argument("--model", type=Path, default=SHIPPED_GENERATOR,
                   help="generator .keras file or run folder (default: the shipped generator)")
    p.add_argument("--n", type=_positive_int, default=512, help="rolls generated and real rolls drawn (default: 512)")
    p.add_argument("--real", type=Path, default=Path("data/images/test"),
                   help="held-out real rolls to compare with (default: %(default)s)")
    p.add_argument("--reference", type=Path, default=Path("data/images/validation"),
                   help="other real rolls, scored like a model: the ceiling (default: %(default)s)")
    p.add_argument("--train-images", type=Path, default=Path("data/images/train"),
                   help="the training rolls, for the copying check (default: %(default)s)")
    p.add_argument("--name", default=None, help="report name (default: the model's folder or file name)")
    p.add_argument("--reports", type=Path, default=Path("reports"), help="where reports go (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="latents and real-roll choice (default: %(default)s)")
    p.add_argument("--by-style", action="store_true",
                   help="also: an era classifier's ceiling on real rolls and, for a generator trained with --styles, "
                        "how often it gives the era asked for")
    p.add_argument("--dynamics", choices=DYNAMICS, default="played",
                   help="score the dynamics as `sample --dynamics` plays them (default: %(default)s)")

    p = commands.add_parser("sample", help="generate music: MIDI, game-ready audio (WAV/OGG/FLAC) and a picture")
    _add_piece_options(p)
    p.add_argument("--like", type=Path, default=None, metavar="MIDI",
                   help="variations of this piano MIDI: latents near its own, in its key and register")
    p.add_argument("--variation", type=_within("variation"), default=0.3,
                   help="with --like: how far from it, 0 (its own latent) to 2 (default: %(default)s)")

    p = commands.add_parser("continue", help="carry on from a piano MIDI: its notes, then generated music")
    _add_piece_options(p)
    p.add_argument("--primer", type=Path, required=True, help="the piano MIDI the piece starts with")
    p.add_argument("--primer-seconds", type=_within("primer_seconds"), default=30.0,
                   help="how much of the primer the piece keeps as written (default: %(default)s s)")

    p = commands.add_parser("morph", help="a piece that starts like one piano MIDI and arrives at another")
    p.add_argument("first", type=Path, help="the MIDI the piece starts like")
    p.add_argument("last", type=Path, help="the MIDI it arrives at")
    _add_piece_options(p)

    p = commands.add_parser("studio", help="a local web page to make, audition and download pieces")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=8765, help="(default: %(default)s)")
    p.add_argument("--out-dir", type=Path, default=Path("studio"),
                   help="where every piece made is kept, with its settings (default: %(default)s)")
    p.add_argument("--model", type=Path, default=SHIPPED_GENERATOR,
                   help="generator .keras file or a run folder (default: the shipped pretrained generator)")
    return parser


INTERRUPTED_HINTS = {
    "download": "run the same command again to resume",
    "train": "continue from the last checkpoint with --resume",
    "studio": "every piece made is kept in its --out-dir",
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        hint = INTERRUPTED_HINTS.get(args.command, "every file already written is complete")
        print(f"{args.command}: interrupted; {hint}", file=sys.stderr)
        return 130


INPUT_PATHS = ("model", "like", "primer", "first", "last", "soundfont", "init_from")  # files a command reads whole


def run(args: argparse.Namespace) -> int:
    # Checked before any stage loads: a mistyped name is refused at once, not after a backend's ~20 s import.
    for name in INPUT_PATHS:
        path = getattr(args, name, None)
        if path is not None and not path.exists():
            raise SystemExit(f"{args.command}: {path} not found")
    # Stages are imported lazily so that `midi2img` does not pay for loading a deep-learning backend.
    if args.command == "download":
        from midi2img.download import DownloadError, download

        try:
            download(args.dir, args.maestro_version)
        except DownloadError as error:
            print(f"download: {error}", file=sys.stderr)
            return 1
        return 0
    if args.command == "midi2img":
        from midi2img import convert_folder

        summary = convert_folder(args.midi_dir, args.out_dir, workers=args.workers,
                                 steps_per_beat=args.steps_per_beat, sustain=args.sustain)
        return 1 if summary.failures else 0
    if args.command == "img2midi":
        from img2midi import convert_images

        failures = convert_images(args.images, args.out_dir, bpm=args.bpm,
                                  steps_per_beat=args.steps_per_beat, threshold=args.threshold)
        return 1 if failures else 0
    if args.command == "train":
        from model.config import parse_settings
        from model.train import train

        overrides = {k: v for k, v in vars(args).items()
                     if k not in ("command", "preset", "images", "run_dir", "resume", "settings") and v is not None}
        overrides.update(parse_settings(args.settings))
        train(images=args.images, run_dir=args.run_dir, resume=args.resume, preset=args.preset, **overrides)
        return 0
    if args.command == "evaluate":
        from model.evaluate import evaluate

        evaluate(**{k: v for k, v in vars(args).items() if k != "command"})
        return 0
    if args.command == "studio":
        from web.app import serve

        serve(args.host, args.port, args.out_dir, args.model)
        return 0
    if args.command in ("sample", "continue", "morph"):
        from model.sample import sample

        if args.style == "":
            from model.checkpoint import load_generator
            from model.style import style_help

            print(style_help(load_generator(args.model, args.command)))
            return 0
        if args.out is None:
            raise SystemExit(f"{args.command}: --out is required (the path of the piece to write)")

        lufs = target_lufs(args.lufs, args.loudness)
        options = {k: v for k, v in vars(args).items() if k not in (
            "command", "model", "lufs", "loudness", "like", "variation", "primer", "primer_seconds", "first", "last")}
        if args.command == "sample" and args.like is None:
            sample(model_path=args.model, lufs=lufs, **options)
            return 0
        from model.checkpoint import load_generator
        from model.primer import from_primers

        if args.command == "continue":
            use, paths, extra = "continue", [args.primer], {"seconds": args.primer_seconds}
        elif args.command == "morph":
            use, paths, extra = "morph", [args.first, args.last], {}
        else:
            use, paths, extra = "like", [args.like], {"variation": args.variation}
        generator = load_generator(args.model, args.command)
        source, options["bpm"] = from_primers(generator, use, paths, args.count, args.seed, args.bpm, args.command,
                                              **extra)
        sample(model_path=args.model, lufs=lufs, generator=generator, source=source, **options)
        return 0
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
