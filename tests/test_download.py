"""`download` against a local HTTP server started here: resume, checksum, size, and unsafe zips.

The real MAESTRO URL is never contacted: every test points the downloader at 127.0.0.1, and a
guard fails any request to another host.
"""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import io
import random
import stat
import threading
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest

import pipeline
from midi2img import download as dl
from midi2img.download import DownloadError, download, extract

ROOT = "maestro-v2.0.0"


@dataclasses.dataclass
class Behaviour:
    """What the test server does; tests change it between requests."""

    files: dict[str, bytes] = dataclasses.field(default_factory=dict)
    cut_after: int | None = None  # drop the connection after this many body bytes...
    cuts_left: int = 0  # ...for this many responses
    honour_range: bool = True
    requests: list[tuple[str, str | None]] = dataclasses.field(default_factory=list)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        state: Behaviour = self.server.behaviour
        state.requests.append((self.path, self.headers.get("Range")))
        data = state.files.get(self.path)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = 0
        wanted = self.headers.get("Range")
        if wanted and state.honour_range:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if state.cuts_left > 0 and state.cut_after is not None:
            state.cuts_left -= 1
            self.wfile.write(body[:state.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.behaviour = Behaviour()
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def only_localhost(monkeypatch):
    """Fail any request to a host other than 127.0.0.1: the real URL must never be contacted."""
    real = urllib.request.urlopen

    def guarded(request, *args, **kwargs):
        url = request.full_url if isinstance(request, urllib.request.Request) else request
        assert urllib.parse.urlparse(url).hostname == "127.0.0.1", f"test tried to reach {url}"
        return real(request, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", guarded)


def make_zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in entries.items():
            bundle.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            bundle.writestr(info, target)
    return buffer.getvalue()


GOOD_ENTRIES = {
    f"{ROOT}/maestro-v2.0.0.csv": b"canonical_composer,midi_filename,split\nX,2004/a.midi,train\n",
    f"{ROOT}/2004/a.midi": random.Random(0).randbytes(20_000),  # incompressible: the zip is ~20 kB
    f"{ROOT}/2004/b.midi": b"MThd" + b"\x01" * 5000,
}


def serve(server, data: bytes, name: str = "/maestro.zip") -> dict:
    server.behaviour.files[name] = data
    return {"url": server.base + name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def assert_nothing_unpacked(tmp_path: Path, target: Path) -> None:
    assert not (target / ROOT).exists()
    assert not list(target.glob(".unpack-*")), "staging folder left behind"
    outside = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")} - {"data"}
    assert all(p.startswith("data/") for p in outside), outside


def test_good_download_unpacks_and_verifies(server, tmp_path):
    data = make_zip(GOOD_ENTRIES)
    target = tmp_path / "data"
    folder = download(target, **serve(server, data), progress=False)
    assert folder == target / ROOT
    for name, content in GOOD_ENTRIES.items():
        assert (target / name).read_bytes() == content
    assert (target / f"{ROOT}-midi.zip").read_bytes() == data
    assert not list(target.glob("*.part")) and not list(target.glob(".unpack-*"))
    assert download(target, **serve(server, data), progress=False) == folder  # second run: nothing to do
    assert len(server.behaviour.requests) == 1


def test_dropped_connections_resume_within_one_run(server, tmp_path):
    data = make_zip(GOOD_ENTRIES)
    server.behaviour.cut_after, server.behaviour.cuts_left = len(data) // 3, 2
    download(tmp_path / "data", **serve(server, data), retry_wait=0, progress=False)
    ranges = [r for _, r in server.behaviour.requests]
    assert ranges == [None, f"bytes={len(data) // 3}-", f"bytes={2 * (len(data) // 3)}-"]
    assert (tmp_path / "data" / f"{ROOT}-midi.zip").read_bytes() == data


def test_interrupted_download_resumes_on_the_next_run(server, tmp_path):
    data = make_zip(GOOD_ENTRIES)
    target = tmp_path / "data"
    source = serve(server, data)
    server.behaviour.cut_after, server.behaviour.cuts_left = 1000, 1
    with pytest.raises(DownloadError, match="run the command again to resume"):
        download(target, **source, retries=0, progress=False)
    part = target / f"{ROOT}-midi.zip.part"
    assert part.read_bytes() == data[:1000]
    assert_nothing_unpacked(tmp_path, target)
    download(target, **source, progress=False)
    assert server.behaviour.requests[-1][1] == "bytes=1000-"
    assert (target / ROOT / "2004" / "a.midi").read_bytes() == GOOD_ENTRIES[f"{ROOT}/2004/a.midi"]
    assert not part.exists()


def test_server_that_ignores_range_restarts_from_zero(server, tmp_path):
    data = make_zip(GOOD_ENTRIES)
    server.behaviour.cut_after, server.behaviour.cuts_left, server.behaviour.honour_range = 500, 1, False
    download(tmp_path / "data", **serve(server, data), retry_wait=0, progress=False)
    assert (tmp_path / "data" / f"{ROOT}-midi.zip").read_bytes() == data


def test_truncated_file_on_the_server_is_refused(server, tmp_path):
    data = make_zip(GOOD_ENTRIES)
    source = serve(server, data[: len(data) // 2])
    source.update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    target = tmp_path / "data"
    with pytest.raises(DownloadError, match="published file has"):
        download(target, **source, progress=False)
    assert_nothing_unpacked(tmp_path, target)


def test_connection_that_always_breaks_gives_up_and_keeps_the_part(server, tmp_path):
    data = make_zip(GOOD_ENTRIES)
    server.behaviour.cut_after, server.behaviour.cuts_left = 100, 99
    target = tmp_path / "data"
    with pytest.raises(DownloadError, match="300 of"):
        download(target, **serve(server, data), retries=2, retry_wait=0, progress=False)
    assert_nothing_unpacked(tmp_path, target)


def test_wrong_checksum_is_refused_and_deleted(server, tmp_path):
    data = make_zip(GOOD_ENTRIES)
    source = serve(server, data)
    source["sha256"] = "0" * 64
    target = tmp_path / "data"
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        download(target, **source, progress=False)
    assert not list(target.glob("*.zip*"))
    assert_nothing_unpacked(tmp_path, target)


def test_http_error_is_one_clear_line(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(tmp_path / "data", url=server.base + "/nothing.zip", sha256="0" * 64, size=10, progress=False)


MALICIOUS = {
    "parent traversal": ({f"{ROOT}/a.midi": b"x", "../evil.txt": b"owned"}, None, "unsafe path"),
    "nested traversal": ({f"{ROOT}/../../evil.txt": b"owned"}, None, "unsafe path"),
    "absolute path": ({"/tmp/pianola-evil.txt": b"owned"}, None, "unsafe path"),
    "backslash traversal": ({"..\\evil.txt": b"owned"}, None, "unsafe path"),
    "symbolic link": ({f"{ROOT}/a.midi": b"x"}, {f"{ROOT}/link": "/etc/passwd"}, "symbolic link"),
    "zip bomb": ({f"{ROOT}/big.midi": b"\0" * 3_000_000}, None, "zip bomb"),
}


@pytest.mark.parametrize("case", MALICIOUS)
def test_malicious_zip_writes_nothing_outside_and_nothing_at_all(server, tmp_path, case):
    entries, links, reason = MALICIOUS[case]
    target = tmp_path / "data"
    with pytest.raises(DownloadError, match=reason):
        download(target, **serve(server, make_zip(entries, links)), max_unpacked=1_000_000, progress=False)
    assert_nothing_unpacked(tmp_path, target)
    assert not Path("/tmp/pianola-evil.txt").exists()


def test_bomb_that_lies_about_its_size_is_stopped_while_unpacking(tmp_path):
    archive = tmp_path / "data" / "lying.zip"
    archive.parent.mkdir()
    archive.write_bytes(make_zip({f"{ROOT}/big.midi": b"\0" * 3_000_000}))
    real_check = dl._check_members
    try:  # pretend the header's sizes passed the check: the byte count while writing must still stop it
        dl._check_members = lambda members, cap: real_check(members, 10**12)
        with pytest.raises(DownloadError, match="zip bomb"):
            extract(archive, archive.parent, max_unpacked=1_000_000)
    finally:
        dl._check_members = real_check
    assert_nothing_unpacked(tmp_path, archive.parent)


def test_cli_uses_the_published_release_and_reports_one_line(server, tmp_path, monkeypatch, capsys):
    release = dl.RELEASES["2.0.0"]
    assert release.url == ("https://storage.googleapis.com/magentadata/datasets/maestro/v2.0.0/"
                           "maestro-v2.0.0-midi.zip")
    assert (release.sha256, release.size) == (
        "ec2cc9d94886c6b376db1eaa2b8ad1ce62ff9f0a28b3744782b13163295dadf3", 59243107)
    assert dl.RELEASES["3.0.0"].sha256 == "70470ee253295c8d2c71e6d9d4a815189e35c89624b76d22fce5a019d5dde12c"
    data = make_zip(GOOD_ENTRIES)
    source = serve(server, data)
    monkeypatch.setitem(dl.RELEASES, "2.0.0", dl.Release("2.0.0", source["url"], "f" * 64, source["size"]))
    assert pipeline.main(["download", "--dir", str(tmp_path / "bad")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("download: SHA-256 mismatch") and "Traceback" not in "\n".join(err)
    monkeypatch.setitem(dl.RELEASES, "2.0.0", dl.Release("2.0.0", source["url"], source["sha256"], source["size"]))
    assert pipeline.main(["download", "--dir", str(tmp_path / "good")]) == 0
    assert (tmp_path / "good" / ROOT / "2004" / "b.midi").is_file()
