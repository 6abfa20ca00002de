"""The studio's API (web/app.py) with FastAPI's test client: limits, hostile requests, files, the queue."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
from conftest import STEP, write_midi
from fastapi.testclient import TestClient

import pipeline
from model.options import RANGES
from web.app import MAX_BODY, MAX_COUNT, MAX_DURATION, create_app


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    out = tmp_path_factory.mktemp("studio")
    with TestClient(create_app(out, pipeline.SHIPPED_GENERATOR)) as client:
        yield client, out


def wait(client: TestClient, piece_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/api/pieces/{piece_id}").json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"piece {piece_id} not made in {timeout} s")


@pytest.mark.parametrize(("field", "low", "high"), [
    ("duration", RANGES["duration"].low, MAX_DURATION), ("bpm", *RANGES["bpm"][:2]),
    ("transpose", *RANGES["transpose"][:2]), ("lufs", *RANGES["lufs"][:2]), ("intro", *RANGES["intro"][:2]),
    ("count", 1, MAX_COUNT), ("seed", 0, 2**31 - 1),
])
def test_every_number_keeps_the_command_lines_limits(studio, field, low, high):
    client, _ = studio
    step = 1 if isinstance(low, int) and isinstance(high, int) else 0.5
    for value in (low - step, high + step):
        answer = client.post("/api/pieces", json={field: value, "loop": True})
        assert answer.status_code == 422 and answer.json()["detail"].startswith(f"{field}: "), answer.text
    schema = client.get("/api/options").json()["fields"][field]
    limits = next(option for option in schema.get("anyOf", [schema]) if "minimum" in option)
    assert (limits["minimum"], limits["maximum"]) == (low, high)  # what the form's inputs are given


HOSTILE = [
    {"duration": "10"}, {"duration": None}, {"duration": [10]}, {"count": 1.5},
    {"count": 0}, {"count": 1000}, {"seed": -1}, {"seed": "surprise"}, {"mood": "angry"}, {"mood": 3},
    {"format": "mp3"}, {"format": "../x"}, {"channels": 3}, {"loop": "yes"}, {"stems": 1},
    {"loudness": "cinema"}, {"loudness": "console", "lufs": -20}, {"intro": 4}, {"unknown": 1},
    {"duration": 250, "loop": True, "intro": 40, "outro": 20}, {"transpose": 0.5}, {"bpm": 1e9},
    {"lufs": 0}, {"duration": -5}, {"primer": "not base64!"}, {"primer": "aGVsbG8="},  # "hello": not MIDI
    {"primer": "TVRoZA==", "primer_use": "continue", "loop": True}, {"primer_use": "remix"}, {"variation": 3},
    {"style": 3}, {"style": ""}, {"style": "x" * 201}, {"style": "jazz"}, {"style": "baroque:10,romantic"},
]


def test_hostile_requests_get_4xx_and_the_server_keeps_serving(studio):
    client, _ = studio
    answers = [client.post("/api/pieces", json=body) for body in HOSTILE]
    json_type = {"content-type": "application/json"}
    for raw in (b"{not json", b"[1, 2]", b'{"duration": 1e999}', b'{"duration": NaN}'):
        answers.append(client.post("/api/pieces", content=raw, headers=json_type))
    answers.append(client.post("/api/pieces", content=b"x" * (MAX_BODY + 1),
                               headers={"content-type": "application/json"}))
    answers.append(client.post("/api/pieces", content=iter([b" " * 8192] * (MAX_BODY // 8192 + 2)),  # no length
                               headers={"content-type": "application/json"}))
    answers.append(client.get("/api/pieces/../../etc/passwd"))
    assert len(answers) >= 41
    assert all(400 <= a.status_code < 500 for a in answers), [(a.status_code, a.text[:80]) for a in answers]
    assert all(isinstance(a.json()["detail"], str) for a in answers if a.status_code != 404)  # readable
    assert [a.status_code for a in answers[-3:-1]] == [413, 413]
    assert client.get("/api/options").status_code == 200


def test_two_requests_both_finish_and_files_are_served_only_from_the_piece(studio):
    client, out = studio
    ids = [client.post("/api/pieces", json={"duration": 4 + i, "seed": i, "loop": i == 1}).json()["id"]
           for i in range(2)]
    jobs = [wait(client, piece_id) for piece_id in ids]
    assert [job["status"] for job in jobs] == ["done", "done"], jobs
    assert {"piece.ogg", "piece.mid", "piece.png"} <= set(jobs[0]["files"]) and "piece.loop.json" in jobs[1]["files"]
    audio = client.get(f"/api/pieces/{ids[0]}/files/piece.ogg")
    assert audio.status_code == 200 and audio.content == (out / ids[0] / "piece.ogg").read_bytes()
    for name in ("job.json", "..%2Fjob.json", "%2E%2E%2F%2E%2E%2Fpyproject.toml", "piece.OGG"):
        assert client.get(f"/api/pieces/{ids[0]}/files/{name}").status_code == 404
    assert client.get("/api/pieces/ffffffffffff/files/piece.ogg").status_code == 404
    archive = client.get(f"/api/pieces/{ids[1]}/zip")
    assert archive.status_code == 200 and archive.content[:2] == b"PK"
    listed = [job["id"] for job in client.get("/api/pieces").json()]
    assert listed[:2] == ids[::-1]  # newest first


def test_the_history_survives_a_restart_and_a_full_queue_says_busy(studio, tmp_path):
    _, out = studio
    with TestClient(create_app(out, pipeline.SHIPPED_GENERATOR, max_queue=1)) as client:
        assert all(job["status"] == "done" for job in client.get("/api/pieces").json())
        assert len(client.get("/api/pieces").json()) >= 2
        first = client.post("/api/pieces", json={"duration": 4})
        second = client.post("/api/pieces", json={"duration": 4})
        assert first.status_code == 202 and second.status_code == 429 and "busy" in second.json()["detail"]
        assert wait(client, first.json()["id"])["status"] == "done"


def test_the_command_line_serves_on_this_machine_only_by_default():
    args = pipeline.build_parser().parse_args(["studio"])
    assert (args.host, args.port, args.out_dir) == ("127.0.0.1", 8765, Path("studio"))


def test_a_primer_sent_with_the_form_makes_variations_like_it(studio, tmp_path):
    client, out = studio
    primer = write_midi(tmp_path / "theme.mid", [(60 + (i % 8), i * 2 * STEP, (i + 1) * 2 * STEP, 80)
                                                 for i in range(32)])
    body = {"duration": 4, "seed": 1, "primer": base64.b64encode(primer.read_bytes()).decode(), "primer_use": "like"}
    job = wait(client, client.post("/api/pieces", json=body).json()["id"])
    assert job["status"] == "done", job
    assert job["settings"]["primer"] == "primer.mid" and "primer.mid" in job["files"]
    assert (out / job["id"] / "primer.mid").read_bytes() == primer.read_bytes()


def test_the_form_suggests_the_generators_styles_and_an_era_is_drafted_as_sample_drafts_it(studio):
    client, out = studio
    assert {"baroque", "romantic", "sparse", "loud"} <= set(client.get("/api/options").json()["styles"])
    refused = client.post("/api/pieces", json={"style": "jazz"})
    assert refused.status_code == 422 and refused.json()["detail"] == "style: no such style", refused.text
    job = wait(client, client.post("/api/pieces", json={"duration": 6, "seed": 2, "style": "baroque"}).json()["id"])
    assert job["status"] == "done" and job["settings"]["style"] == "baroque", job
    assert "piece.mid" in job["files"]
