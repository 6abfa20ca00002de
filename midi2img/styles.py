"""Style labels of MAESTRO pieces: each piece's era and composer, kept beside its images.

MAESTRO's CSV names each recording's composer (`canonical_composer`); an arrangement
("Johann Sebastian Bach / Ferruccio Busoni") takes its first composer. `midi2img` writes one
`styles.csv` per split folder (piece, composer, era), so that training and evaluation by style
never need the MAESTRO CSV again. An image belongs to the piece its name starts with
(`<piece>_NNNN.png`, see midi2img.io.convert_file).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from midi2img.atomic import atomic_path

ERAS = ("baroque", "classical", "romantic", "modern")
ERA_NAMES = {"baroque": "Baroque", "classical": "Classical", "romantic": "Romantic",
             "modern": "Late Romantic and Modern"}

# Every composer MAESTRO v2.0.0 names first, by surname, with the era of their piano writing.
# Gibbons (late Renaissance) sits with the Baroque keyboard composers, the nearest class.
COMPOSER_ERAS = {
    **dict.fromkeys(("Bach", "Scarlatti", "Handel", "Purcell", "Rameau", "Gibbons", "Soler", "Pachelbel",
                     "Fischer"), "baroque"),
    **dict.fromkeys(("Haydn", "Mozart", "Clementi", "Beethoven"), "classical"),
    **dict.fromkeys(("Schubert", "Chopin", "Schumann", "Liszt", "Mendelssohn", "Brahms", "Weber", "Franck",
                     "Tchaikovsky", "Glinka", "Gounod", "Bizet", "Verdi", "Wagner", "Strauss", "Paganini",
                     "Grieg"), "romantic"),
    **dict.fromkeys(("Rachmaninoff", "Scriabin", "Debussy", "Ravel", "Mussorgsky", "Janáček", "Berg", "Medtner",
                     "Enescu", "Grainger", "Arensky", "Albéniz", "Balakirev", "Rimsky-Korsakov", "Kreisler"),
                    "modern"),
}
# Composers with enough music to learn (MAESTRO hours, arrangements counted under their first
# composer; Haydn's 4.7 h rounds to the 5 h mark): finer classes than the eras.
COMPOSERS = ("Schubert", "Beethoven", "Chopin", "Liszt", "Schumann", "Bach", "Brahms", "Rachmaninoff", "Debussy",
             "Mozart", "Scriabin", "Mendelssohn", "Haydn")
# The classes a style-conditioned generator learns: each of COMPOSERS, and per era the rest of its composers.
STYLE_CLASSES = (*(composer.lower() for composer in COMPOSERS), *(f"other-{era}" for era in ERAS))
INDEX_NAME = "styles.csv"
INDEX_COLUMNS = ("piece", "composer", "era")


def first_composer(canonical: str) -> str:
    """The surname of the first composer MAESTRO names: 'Johann Sebastian Bach / Ferruccio Busoni' -> 'Bach'."""
    names = canonical.split("/")[0].split()
    return names[-1] if names else ""


def era_of(canonical: str) -> str | None:
    """The era of a MAESTRO `canonical_composer`, None for a composer not in COMPOSER_ERAS."""
    return COMPOSER_ERAS.get(first_composer(canonical))


def piece_of(name: str | Path) -> str:
    """The source piece of a window's file: its stem without the `_NNNN` window index."""
    return re.sub(r"_\d{4}$", "", Path(name).stem)


def write_style_index(folder: Path, rows: Iterable[tuple[str, str]]) -> Path:
    """Write folder/styles.csv from (piece, canonical composer) pairs, atomically; returns its path."""
    path = Path(folder) / INDEX_NAME
    with atomic_path(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(INDEX_COLUMNS)
        for piece, canonical in sorted(rows):
            writer.writerow((piece, first_composer(canonical), era_of(canonical) or ""))
    return path


def read_style_index(folder: Path) -> Mapping[str, tuple[str, str]]:
    """piece -> (composer, era) from folder/styles.csv; {} where there is none."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["piece"]: (row["composer"], row["era"]) for row in csv.DictReader(handle)}


def styles_of(folder: Path, paths: Iterable[Path], needed_by: str) -> list[tuple[str, str]]:
    """(composer, era) of each image by the styles.csv in `folder`; ("", "") for a piece it does not list.

    Stops with one line, naming `needed_by` (say "train: --styles"), where there is no styles.csv.
    """
    index = read_style_index(folder)
    if not index:
        raise SystemExit(f"{needed_by} needs {Path(folder) / INDEX_NAME}, which midi2img writes from MAESTRO's CSV; "
                         "run `python pipeline.py midi2img` again")
    return [index.get(piece_of(path), ("", "")) for path in paths]


def style_class(composer: str, era: str) -> str | None:
    """The STYLE_CLASSES name of a piece by `composer` (a surname) of `era`; None without an era."""
    if composer in COMPOSERS:
        return composer.lower()
    return f"other-{era}" if era in ERAS else None


def era_of_class(name: str) -> str:
    """The era a STYLE_CLASSES name belongs to."""
    return name.removeprefix("other-") if name.startswith("other-") else COMPOSER_ERAS[name.capitalize()]
