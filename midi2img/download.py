"""`python pipeline.py download`: fetch, verify and safely unpack the MAESTRO MIDI zip.

The zip is downloaded to `<dir>/<name>.zip.part` with a progress bar; an interrupted
download (a dropped connection, Ctrl-C, a kill) resumes from the bytes already on disk
with an HTTP Range request, both within one run (a few retries) and on the next run.
Only a file of the published size and SHA-256 is renamed to `<name>.zip`. It is then
unpacked into a temporary folder beside the target and renamed into place, refusing
any member that would land outside the target (absolute paths, `..`, drive letters),
links and other special files, and archives that unpack to more than a size cap (zip
bombs), so a bad archive writes nothing outside `<dir>` and leaves no half-unpacked data.

Standard library only (urllib) for HTTP; tests point `url`, `sha256` and `size` at a
server of their own, never at the real one.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import shutil
import stat
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from midi2img.atomic import sha256_file


@dataclasses.dataclass(frozen=True)
class Release:
    """One published MAESTRO MIDI zip: where it is and what its bytes must hash to."""

    version: str
    url: str
    sha256: str
    size: int

    @property
    def folder(self) -> str:
        """The single top-level folder the zip unpacks to (also midi2img's --midi-dir)."""
        return f"maestro-v{self.version}"


# SHA-256 and size as published for the MIDI-only zips (the dataset page at
# https://magenta.tensorflow.org/datasets/maestro gives the v3.0.0 hash; both are the values MusPy's
# dataset registry, muspy/datasets/maestro.py, verifies downloads against).
RELEASES = {
    "2.0.0": Release(
        "2.0.0",
        "https://storage.googleapis.com/magentadata/datasets/maestro/v2.0.0/maestro-v2.0.0-midi.zip",
        "ec2cc9d94886c6b376db1eaa2b8ad1ce62ff9f0a28b3744782b13163295dadf3",
        59243107,
    ),
    "3.0.0": Release(
        "3.0.0",
        "https://storage.googleapis.com/magentadata/datasets/maestro/v3.0.0/maestro-v3.0.0-midi.zip",
        "70470ee253295c8d2c71e6d9d4a815189e35c89624b76d22fce5a019d5dde12c",
        58416533,
    ),
}
DEFAULT_VERSION = "2.0.0"

MAX_UNPACKED_BYTES = 2 * 2**30  # MAESTRO's MIDI unpacks to under 100 MB; anything past 2 GiB is a bomb
MAX_MEMBERS = 100_000
CHUNK_BYTES = 1 << 16
RETRIES = 5  # reconnections per run after a dropped connection, each resuming where the last stopped
TIMEOUT_SECONDS = 60


class DownloadError(Exception):
    """A download or unpack that was refused; str(error) is the one-line reason."""


def download(target_dir: Path, version: str = DEFAULT_VERSION, *, url: str | None = None,
             sha256: str | None = None, size: int | None = None, max_unpacked: int = MAX_UNPACKED_BYTES,
             retries: int = RETRIES, retry_wait: float = 1.0, progress: bool | None = None) -> Path:
    """Download, verify and unpack MAESTRO into target_dir; returns the unpacked folder.

    url, sha256 and size default to the published release of `version`; tests pass their own.
    Raises DownloadError with a one-line reason on any failure.
    """
    if version not in RELEASES:
        raise DownloadError(f"unknown MAESTRO version {version}; known: {', '.join(RELEASES)}")
    published = RELEASES[version]
    release = Release(version, url or published.url, (sha256 or published.sha256).lower(),
                      published.size if size is None else size)
    target_dir = Path(target_dir)
    final = target_dir / release.folder
    if final.exists():
        print(f"download: {final} already exists; delete it to download again")
        return final
    target_dir.mkdir(parents=True, exist_ok=True)
    archive = target_dir / f"{release.folder}-midi.zip"
    if archive.exists() and sha256_file(archive) != release.sha256:
        archive.unlink()  # a zip left here that is not the published one is never trusted
    if not archive.exists():
        part = archive.with_name(archive.name + ".part")
        fetch(release.url, part, release.size, retries=retries, retry_wait=retry_wait, progress=progress)
        verify(part, release.sha256, release.size)
        os.replace(part, archive)
    else:
        print(f"download: {archive} already downloaded and verified")
    extract(archive, target_dir, max_unpacked=max_unpacked)
    if not final.is_dir():
        raise DownloadError(f"{archive} did not contain the folder {release.folder}/")
    print(f"download: MAESTRO v{version} MIDI in {final}")
    return final


def fetch(url: str, part: Path, size: int, retries: int = RETRIES, retry_wait: float = 1.0,
          progress: bool | None = None) -> None:
    """Download url into part, resuming from part's current length; stops at `size` bytes."""
    attempts = 0
    with tqdm(total=size, initial=_length(part), unit="B", unit_scale=True, unit_divisor=1024,
              desc="download", file=sys.stderr, disable=None if progress is None else not progress) as bar:
        while True:
            have = _length(part)
            if have == size:
                return
            if have > size:
                part.unlink()
                raise DownloadError(f"{part}: {have} bytes, more than the published {size}; deleted, run again")
            try:
                _fetch_once(url, part, have, size, bar)
            except _TransferInterruptedError as interrupted:
                attempts += 1
                if attempts > retries:
                    raise DownloadError(f"connection kept failing ({interrupted}); {_length(part)} of {size} "
                                        f"bytes are in {part}; run the command again to resume") from None
                tqdm.write(f"download: connection lost ({interrupted}); resuming at byte {_length(part)}",
                           file=sys.stderr)
                time.sleep(retry_wait)


class _TransferInterruptedError(Exception):
    """A transfer that stopped early but can be resumed."""


def _fetch_once(url: str, part: Path, have: int, size: int, bar: tqdm) -> None:
    """One HTTP request for the bytes from `have` on, appended to part as they arrive."""
    request = urllib.request.Request(url, headers={"User-Agent": "pianola-download"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    host = urllib.parse.urlparse(url).netloc
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)  # noqa: S310 (https/http only)
    except urllib.error.HTTPError as error:
        if error.code == 416 and have:  # the server's file ends before the bytes we already hold
            part.unlink()
            raise DownloadError(f"the server's file is shorter than the {have} bytes already downloaded "
                                f"(HTTP 416); deleted {part.name}, not the published file") from None
        raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        raise _TransferInterruptedError(f"cannot reach {host}: {getattr(error, 'reason', error)}") from None
    with response:
        if have and response.status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {have}-"):
                raise DownloadError(f"{host} resumed at the wrong place ({content_range!r}, asked for byte {have})")
        elif have:  # the server ignored the Range header and sends the whole file: start over
            have = 0
            bar.reset(total=size)
        expected = response.headers.get("Content-Length")
        expected = have + int(expected) if expected and expected.isdigit() else None
        if expected is not None and expected != size:
            raise DownloadError(f"{host} offers {expected} bytes, the published file has {size}; "
                                "not the expected file")
        with open(part, "ab" if have else "wb") as out:
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (http.client.HTTPException, OSError) as error:  # dropped connection, timeout
                    raise _TransferInterruptedError(type(error).__name__) from None
                if not chunk:
                    break
                if out.tell() + len(chunk) > size:
                    raise DownloadError(f"{host} sent more than the published {size} bytes; not the expected file")
                out.write(chunk)
                bar.update(len(chunk))
            got = out.tell()
    if got < size:  # the connection closed early without an error from http.client
        raise _TransferInterruptedError(f"connection closed after {got} of {size} bytes")


def verify(path: Path, sha256: str, size: int) -> None:
    """DownloadError (and path deleted) unless path has the published size and SHA-256."""
    have = _length(path)
    if have != size:
        raise DownloadError(f"{path}: {have} bytes, the published file has {size}; run again to resume")
    digest = sha256_file(path)
    if digest != sha256.lower():
        path.unlink()
        raise DownloadError(f"SHA-256 mismatch: got {digest}, published {sha256}; "
                            "the download is corrupt or not the MAESTRO zip, deleted it")


def extract(archive: Path, target_dir: Path, max_unpacked: int = MAX_UNPACKED_BYTES) -> list[Path]:
    """Unpack archive into target_dir safely; returns the top-level paths created.

    Every member is checked before anything is written; the members are unpacked into a
    temporary folder inside target_dir (counting the bytes really written, not the sizes the
    archive claims) and only then renamed into place. Nothing already in target_dir is replaced.
    """
    target_dir = Path(target_dir)
    try:
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            plan = _check_members(members, max_unpacked)
            tops = sorted({PurePosixPath(name).parts[0] for name, _ in plan})
            taken = [t for t in tops if (target_dir / t).exists() or (target_dir / t).is_symlink()]
            if taken:
                raise DownloadError(f"{target_dir / taken[0]} already exists; delete it to unpack {archive.name}")
            staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=target_dir))
            try:
                written = 0
                for name, info in plan:
                    destination = staging.joinpath(*PurePosixPath(name).parts)
                    if info.is_dir():
                        destination.mkdir(parents=True, exist_ok=True)
                        continue
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    with bundle.open(info) as source, open(destination, "xb") as out:
                        while True:
                            chunk = source.read(CHUNK_BYTES)
                            if not chunk:
                                break
                            written += len(chunk)
                            if written > max_unpacked:
                                raise DownloadError(f"{archive.name} unpacks to more than {max_unpacked} bytes "
                                                    "(a zip bomb?); refused")
                            out.write(chunk)
                for top in tops:
                    os.rename(staging / top, target_dir / top)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive}: not a valid zip archive ({error})") from None
    except (zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError) as error:
        raise DownloadError(f"{archive}: cannot unpack ({error})") from None
    return [target_dir / t for t in tops]


def _check_members(members: list[zipfile.ZipInfo], max_unpacked: int) -> list[tuple[str, zipfile.ZipInfo]]:
    """(safe relative posix name, member) for each member, or DownloadError naming the first bad one."""
    if len(members) > MAX_MEMBERS:
        raise DownloadError(f"archive holds {len(members)} entries, more than {MAX_MEMBERS}; refused")
    declared = sum(m.file_size for m in members)
    if declared > max_unpacked:
        raise DownloadError(f"archive would unpack to {declared} bytes, more than the cap of {max_unpacked} "
                            "(a zip bomb?); refused")
    plan, seen = [], set()
    for info in members:
        name = info.filename.replace("\\", "/")
        path = PurePosixPath(name)
        if (name.startswith("/") or (len(name) > 1 and name[1] == ":") or ".." in path.parts
                or not path.parts or "\0" in name):
            raise DownloadError(f"unsafe path in archive: {info.filename!r} (absolute or outside the target); "
                                "refused")
        mode = info.external_attr >> 16
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):  # 0: no Unix type recorded
            kind = "a symbolic link" if stat.S_ISLNK(mode) else "a special file"
            raise DownloadError(f"archive entry {info.filename!r} is {kind}; refused")
        key = path.as_posix().rstrip("/").lower()
        if key in seen and not info.is_dir():
            raise DownloadError(f"archive holds {info.filename!r} twice; refused")
        seen.add(key)
        plan.append((path.as_posix(), info))
    return plan


def _length(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0

