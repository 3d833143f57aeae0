"""The bare-framework baseline: a FastAPI app with one `GET` answering `{"ok": true}`, served by
uvicorn exactly as `giftwell serve` serves Giftwell (one worker, uvloop and httptools, no access
log). `make bench` measures it in the same run as the real endpoints: the ceiling a Python
service reaches on this machine, and the figure every endpoint's ratio is taken against.

`python -m bench.bare --port N [--workers N] [--server granian]` runs it alone; bench/multi.py
serves it with the same server and worker count as `giftwell serve --workers N`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.responses import JSONResponse

app = FastAPI()


@app.get("/")
async def ok() -> JSONResponse:
    return JSONResponse({"ok": True})


def start(port: int, log_path: Path, *, workers: int = 1, server: str = "uvicorn") -> subprocess.Popen[bytes]:
    """The bare server on 127.0.0.1:`port`, once it answers."""
    cmd = [sys.executable, "-m", "bench.bare", "--port", str(port), "--workers", str(workers), "--server", server]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the bare server exited:\n{log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                if r.status == 200:
                    return proc
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the bare server did not answer within 30 s")


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    args = parser.parse_args()
    if args.server == "granian":
        from granian import Granian
        from granian.constants import Interfaces, Loops

        # As src/giftwell/cli/processes.py starts granian.
        Granian(
            "bench.bare:app",
            address="127.0.0.1",
            port=args.port,
            interface=Interfaces.ASGI,
            workers=args.workers,
            loop=Loops.uvloop,
            log_enabled=False,
        ).serve()
        return
    # The same call as `giftwell serve` (src/giftwell/cli/serving.py, cli/processes.py), minus
    # Giftwell's logging.
    target: Any = app if args.workers == 1 else "bench.bare:app"
    uvicorn.run(target, host="127.0.0.1", port=args.port, workers=args.workers, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
