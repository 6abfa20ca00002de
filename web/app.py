"""The studio's web app (FastAPI): a form, a queue of pieces made one at a time, cards, downloads, a history.

The generator is loaded once; one worker thread makes pieces with `model.sample.sample` in the
order they were asked for, so a long piece never blocks the page. Every piece is a folder under
the output folder holding its files and `job.json` (its settings, seed and state), so the history
survives a reload or a restart. Files are served only by name from a piece's own list.
"""

from __future__ import annotations

import base64
import io
import json
import queue
import re
import secrets
import threading
import time
import zipfile
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, model_validator

from midi2img.atomic import atomic_path
from model.options import FORMATS, LOUDNESS_PRESETS, MOODS, RANGES, target_lufs

STATIC = Path(__file__).resolve().parent / "static"
MAX_DURATION = 300.0  # seconds a studio piece may last (the command line allows 1200)
MAX_COUNT = 4  # pieces per request
MAX_QUEUE = 16  # requests waiting or being made; more get "busy"
MAX_PRIMER_BASE64 = 256 * 1024  # characters of a primer MIDI in base64 (192 KB of MIDI: minutes of piano)
MAX_BODY = MAX_PRIMER_BASE64 + 16 * 1024  # bytes of a request body
PRIMER = "primer.mid"  # a piece's primer, in its folder
PIECE_ID = re.compile(r"^[0-9a-f]{12}$")
MAX_SEED = 2**31 - 1
MAX_STYLE = 200  # characters of a style request: a schedule of a dozen styles


def _within(name: str, cap: float | None = None, **kwargs):
    """A form field with the command line's range (model/options.py), capped where the studio allows less."""
    low, high, _, _ = RANGES[name]
    return Field(ge=low, le=min(high, cap) if cap is not None else high, **kwargs)


class PieceRequest(BaseModel):
    """What the form sends: `sample`'s options, checked with the same limits as the command line."""

    model_config = ConfigDict(extra="forbid", strict=True)

    mood: Literal[MOODS] | None = None  # type: ignore[valid-type]
    style: str | None = Field(default=None, min_length=1, max_length=MAX_STYLE)  # as `sample --style`; see submit
    duration: float = _within("duration", MAX_DURATION, default=20.0)
    loop: bool = False
    intro: float = _within("intro", MAX_DURATION, default=0.0)
    outro: float = _within("outro", MAX_DURATION, default=0.0)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)  # None: surprise me
    count: int = Field(default=1, ge=1, le=MAX_COUNT)
    bpm: float | None = _within("bpm", default=None)
    transpose: int = _within("transpose", default=0)
    loudness: Literal[tuple(LOUDNESS_PRESETS)] | None = None  # type: ignore[valid-type]
    lufs: float | None = _within("lufs", default=None)
    format: Literal[FORMATS] = "ogg"  # type: ignore[valid-type]
    channels: Literal[1, 2] = 2
    stems: bool = False
    # The user's own music (a MIDI file, base64): "continue" it or make variations "like" it.
    primer: str | None = Field(default=None, max_length=MAX_PRIMER_BASE64)
    primer_use: Literal["continue", "like"] = "like"
    variation: float = _within("variation", default=0.3)
    primer_seconds: float = _within("primer_seconds", default=30.0)

    @model_validator(mode="after")
    def _consistent(self) -> PieceRequest:
        if self.primer is not None:
            try:
                midi = base64.b64decode(self.primer, validate=True)
            except ValueError:
                raise ValueError("primer: not base64") from None
            if not midi.startswith(b"MThd"):
                raise ValueError("primer: not a MIDI file (no 'MThd' header)")
            if self.primer_use == "continue" and (self.loop or self.mood):
                raise ValueError("a continuation is neither a loop nor takes a mood")
        if (self.intro or self.outro) and not self.loop:
            raise ValueError("intro and outro frame a loop; tick loop")
        if self.loudness is not None and self.lufs is not None:
            raise ValueError("give a loudness preset or a LUFS target, not both")
        if self.intro + self.duration + self.outro > MAX_DURATION:
            raise ValueError(f"intro, loop and outro together may last {MAX_DURATION:g} s at most")
        return self


class Studio:
    """The queue, the worker and the pieces on disk."""

    def __init__(self, out_dir: Path, model_path: Path, max_queue: int = MAX_QUEUE) -> None:
        from model.checkpoint import load_generator

        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.model_path = Path(model_path)
        self.generator = load_generator(self.model_path, "studio")
        self.jobs: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.waiting: queue.Queue[str] = queue.Queue()
        self.max_queue = max_queue
        for record in sorted(self.out_dir.glob("*/job.json")):
            job = json.loads(record.read_text())
            if job.get("status") in ("queued", "running"):  # cut off by a restart: made again
                job["status"] = "queued"
                self.waiting.put(job["id"])
            self.jobs[job["id"]] = job
        threading.Thread(target=self._work, name="studio-worker", daemon=True).start()

    def _save(self, job: dict) -> None:
        folder = self.out_dir / job["id"]
        folder.mkdir(exist_ok=True)
        with atomic_path(folder / "job.json") as tmp:
            tmp.write_text(json.dumps(job, indent=2) + "\n")

    def submit(self, request: PieceRequest) -> dict:
        if request.style is not None:  # refused now, in one line, rather than as a failed piece later
            from model.style import style_plan

            try:
                style_plan(self.generator, request.style, 1, 1, 1.0, 0, "studio")
            except SystemExit as error:
                raise HTTPException(422, f"style: {str(error).splitlines()[0].split(': ', 2)[-1]}") from None
        with self.lock:
            busy = sum(job["status"] in ("queued", "running") for job in self.jobs.values())
            if busy >= self.max_queue:
                raise HTTPException(429, f"busy: {busy} pieces are waiting or being made; try again in a minute")
            settings = request.model_dump()
            if settings["seed"] is None:
                settings["seed"] = secrets.randbelow(MAX_SEED + 1)
            job = {"id": secrets.token_hex(6), "created": time.time(), "status": "queued", "settings": settings,
                   "files": [], "error": None, "seconds": None}
            if settings["primer"] is not None:  # kept as a file beside the piece, named in its settings
                (self.out_dir / job["id"]).mkdir()
                with atomic_path(self.out_dir / job["id"] / PRIMER) as tmp:
                    tmp.write_bytes(base64.b64decode(settings["primer"]))
                settings["primer"] = PRIMER
            self.jobs[job["id"]] = job
            self._save(job)
        self.waiting.put(job["id"])
        return self.view(job)

    def view(self, job: dict) -> dict:
        """A job as the page sees it: with its place in the queue while it waits."""
        shown = dict(job)
        if job["status"] == "queued":
            with self.lock:
                ahead = [j for j in self.jobs.values() if j["status"] in ("queued", "running")
                         and j["created"] < job["created"]]
            shown["position"] = len(ahead)
        return shown

    def job(self, piece_id: str) -> dict:
        if not PIECE_ID.match(piece_id) or piece_id not in self.jobs:
            raise HTTPException(404, f"no piece {piece_id!r}")
        return self.jobs[piece_id]

    def _work(self) -> None:
        while True:
            job = self.jobs[self.waiting.get()]
            job["status"] = "running"
            self._save(job)
            started = time.monotonic()
            try:
                self._make(job)
                job["status"] = "done"
            except (Exception, SystemExit) as error:  # a piece that fails says why; the next one goes on
                job["status"], job["error"] = "failed", str(error).splitlines()[0] if str(error) else repr(error)
            job["seconds"] = round(time.monotonic() - started, 1)
            self._save(job)

    def _make(self, job: dict) -> None:
        from model.sample import sample

        settings = dict(job["settings"])
        folder = self.out_dir / job["id"]
        lufs = target_lufs(settings.pop("lufs"), settings.pop("loudness"))
        audio_format = settings.pop("format")
        source = self._source(folder, settings)
        sample(folder / f"piece.{audio_format}", self.model_path, generator=self.generator, lufs=lufs,
               audio_format=audio_format, source=source, **settings)
        job["files"] = sorted(p.name for p in folder.iterdir() if p.name != "job.json" and not p.name.startswith("."))

    def _source(self, folder: Path, settings: dict):
        """The primer's Source (model/primer.py) from its file in the piece's folder; None without one.

        Pops the primer's settings; sets the tempo to the primer's unless one was asked for.
        """
        from model import primer

        name, use = settings.pop("primer"), settings.pop("primer_use")
        variation, seconds = settings.pop("variation"), settings.pop("primer_seconds")
        if name is None:
            return None
        source, settings["bpm"] = primer.from_primers(self.generator, use, [folder / name], settings["count"],
                                                      settings["seed"], settings["bpm"], "studio", variation, seconds)
        return source

    def file(self, piece_id: str, name: str) -> Path:
        job = self.job(piece_id)
        if name not in job["files"]:  # only what the piece wrote: no path, no traversal
            raise HTTPException(404, f"piece {piece_id} has no file {name!r}")
        return self.out_dir / piece_id / name


class BodyLimit:
    """ASGI middleware: a request body over MAX_BODY bytes gets 413, whether announced or streamed."""

    def __init__(self, app, limit: int = MAX_BODY) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            return await _too_large(send, self.limit)
        seen, refused = 0, False

        async def counted():
            nonlocal seen, refused
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit and not refused:  # answer now; to the app the client has gone
                refused = True
                await _too_large(send, self.limit)
                return {"type": "http.disconnect"}
            return message

        async def unless_refused(message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, unless_refused)


async def _too_large(send, limit: int) -> None:
    body = json.dumps({"detail": f"request body over {limit} bytes"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def create_app(out_dir: Path, model_path: Path, max_queue: int = MAX_QUEUE) -> FastAPI:
    """The studio: the page, its API and the pieces' files."""
    studio = Studio(out_dir, model_path, max_queue)
    app = FastAPI(title="pianola studio", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio
    app.add_middleware(BodyLimit)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(RequestValidationError)
    async def readable(_: Request, error: RequestValidationError) -> JSONResponse:
        lines = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"] if part != "body")
            lines.append(f"{where}: {item['msg']}" if where else item["msg"])
        return JSONResponse({"detail": "; ".join(lines)}, status_code=422)

    @app.get("/")
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/api/options")
    def options() -> dict:
        """The form's limits, from the same table as the command line's, and the styles to suggest."""
        from model.style import style_choices

        fields = PieceRequest.model_json_schema()["properties"]
        return {"fields": fields, "max_queue": studio.max_queue, "loudness": LOUDNESS_PRESETS,
                "styles": style_choices(studio.generator)}

    @app.post("/api/pieces", status_code=202)
    def make(request: PieceRequest) -> dict:
        return studio.submit(request)

    @app.get("/api/pieces")
    def history() -> list[dict]:
        return [studio.view(job) for job in sorted(studio.jobs.values(), key=lambda j: -j["created"])]

    @app.get("/api/pieces/{piece_id}")
    def one(piece_id: str) -> dict:
        return studio.view(studio.job(piece_id))

    @app.get("/api/pieces/{piece_id}/files/{name}")
    def download(piece_id: str, name: str) -> FileResponse:
        return FileResponse(studio.file(piece_id, name), filename=f"{piece_id}_{name}")

    @app.get("/api/pieces/{piece_id}/zip")
    def everything(piece_id: str) -> Response:
        job = studio.job(piece_id)
        if job["status"] != "done":
            raise HTTPException(409, f"piece {piece_id} is {job['status']}")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in job["files"]:
                archive.write(studio.file(piece_id, name), f"{piece_id}/{name}")
            archive.writestr(f"{piece_id}/settings.json", json.dumps(job["settings"], indent=2) + "\n")
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers={"content-disposition": f'attachment; filename="pianola_{piece_id}.zip"'})

    return app


def serve(host: str, port: int, out_dir: Path, model_path: Path) -> None:
    """Run the studio until interrupted."""
    import uvicorn

    app = create_app(out_dir, model_path)
    print(f"studio: http://{host}:{port}  (pieces kept in {Path(out_dir).resolve()}; Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
