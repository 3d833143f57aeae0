"""The bare-framework baseline: a FastAPI app with one `GET` answering `{"ok": true}`, served by
uvicorn exactly as `giftwell serve` serves Giftwell (one worker, uvloop and httptools, no access
log). `make bench` measures it in the same run as the real endpoints: the ceiling a Python
service reaches on this machine, and the figure every endpoint's ratio is taken against.

`python -m bench.bare --port N` runs it alone.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from fastapi import FastAPI
from starlette.responses import JSONResponse

app = FastAPI()


@app.get("/")
async def ok() -> JSONResponse:
    return JSONResponse({"ok": True})


def start(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """The bare server on 127.0.0.1:`port`, once it answers."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.bare", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT
        )
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
    args = parser.parse_args()
    # The same call as `giftwell serve` (src/giftwell/cli/serving.py), minus Giftwell's logging.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
