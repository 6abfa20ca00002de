"""The studio under load: requests sent at once all complete, memory stays bounded, past the cap comes "busy".

    python bench/studio_load.py [--requests 10] [--seconds 10]

Starts `pipeline.py studio` on a free port with a fresh output folder, sends --requests pieces at
once, waits for all of them, then sends the queue's cap and 4 more at once. Prints each phase's
figures and the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from web.app import MAX_QUEUE  # noqa: E402


def call(address: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(address + path, data=data, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def peak_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def burst(address: str, count: int, seconds: float) -> tuple[list[int], list[str], float]:
    """Send `count` requests at once: (status codes, ids accepted, seconds until the last answer)."""
    started = time.monotonic()
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda i: call(address, "/api/pieces", {"duration": seconds, "seed": i}), range(count)))
    return [a[0] for a in answers], [a[1]["id"] for a in answers if a[0] == 202], time.monotonic() - started


def wait_all(address: str, ids: list[str]) -> dict[str, int]:
    while True:
        states = [call(address, f"/api/pieces/{i}")[1]["status"] for i in ids]
        if all(s in ("done", "failed") for s in states):
            return {s: states.count(s) for s in set(states)}
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as out:
        server = subprocess.Popen([sys.executable, str(REPO / "pipeline.py"), "studio", "--port", str(port),
                                   "--out-dir", out], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    call(address, "/api/options")
                    break
                except OSError:
                    time.sleep(0.1)
            print(f"server up, {peak_mib(server.pid):.0f} MiB")
            codes, ids, answered = burst(address, args.requests, args.seconds)
            started = time.monotonic()
            states = wait_all(address, ids)
            print(f"{args.requests} requests of {args.seconds:g} s pieces at once: answers {sorted(set(codes))} "
                  f"in {answered:.2f} s; {states} after {time.monotonic() - started:.1f} s; "
                  f"peak memory {peak_mib(server.pid):.0f} MiB")
            over = MAX_QUEUE + 4
            codes, ids, answered = burst(address, over, args.seconds)
            busy = codes.count(429)
            print(f"{over} requests at once (cap {MAX_QUEUE}): {codes.count(202)} accepted, {busy} answered busy, "
                  f"all answered in {answered:.2f} s")
            states = wait_all(address, ids)
            print(f"accepted ones: {states}; peak memory {peak_mib(server.pid):.0f} MiB")
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
