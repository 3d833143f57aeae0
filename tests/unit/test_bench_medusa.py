"""The Medusa comparison's client (bench/fixedload.py) on a real loopback server, and its report:
a skip when npm is missing never fails `make bench`."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from bench import fixedload, medusa
from bench.fixedload import Request


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the servers measured

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        sent = json.loads(self.rfile.read(length)) if length else None
        if self.path == "/missing":
            data, status = b'{"error": "no"}', 404
        else:
            data, status = (
                json.dumps({"path": self.path, "sent": sent, "auth": self.headers["Authorization"]}).encode(),
                200,
            )
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if self.path.startswith("/chunked"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(data) // 2
            for part in (data[:half], data[half:], b""):
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        else:
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server_url():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_every_request_is_sent_once_and_answers_come_back_in_order(server_url):
    reqs = [Request("POST", f"/cards/{i}", {"n": i}) if i % 2 else Request("GET", f"/chunked/{i}") for i in range(50)]
    result, bodies = fixedload.run(server_url, reqs, connections=4, headers={"Authorization": "Bearer t"})
    assert result.requests == 50
    assert result.non_2xx == 0
    assert result.rps > 0
    assert result.server_cpu_us is None  # no pid given
    assert [b["path"] for b in bodies] == [r.path for r in reqs]
    assert bodies[3]["sent"] == {"n": 3}
    assert bodies[2]["sent"] is None
    assert {b["auth"] for b in bodies} == {"Bearer t"}
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms


def test_failures_are_counted_with_the_first_one_named(server_url):
    reqs = [Request("GET", "/ok"), Request("GET", "/missing"), Request("GET", "/ok")]
    result, bodies = fixedload.run(server_url, reqs, connections=2, headers={})
    assert result.requests == 3
    assert result.non_2xx == 1
    assert result.first_error is not None
    assert result.first_error.startswith("GET /missing: 404")
    assert bodies[1] is None
    assert bodies[0]["path"] == "/ok"


def test_without_npm_the_comparison_is_skipped_with_the_reason_and_fails_nothing(monkeypatch, tmp_path):
    monkeypatch.setattr(medusa.shutil, "which", lambda tool: None if tool == "npm" else "/usr/bin/" + tool)
    result = medusa.measure(tmp_path, durable=False)
    assert result == {"skipped": "npm not found on PATH"}
    assert medusa.lines(result) == ["Giftwell vs Medusa v1 gift cards: skipped (npm not found on PATH)"]
    assert medusa.problems(result) == []


def _row(rps: float, cpu: float) -> dict[str, float]:
    return {"rps": rps, "p50_ms": 10.0, "p99_ms": 40.0, "server_cpu_us": cpu, "non_2xx": 0}


def test_each_row_is_reported_as_a_ratio_to_medusa():
    rows = dict.fromkeys(medusa.ROWS)
    result = {
        "cards": 1000,
        "connections": 8,
        "giftwell": {**{k: _row(500, 900) for k in rows}, "server_errors_logged": 0, "ledger_ok": True},
        "medusa": {**{k: _row(100, 3000) for k in rows}, "medusa_version": "1.20.8", "node_version": "v20"},
    }
    out = medusa.lines(result)
    assert "Medusa 1.20.8" in out[0]
    assert len(out) == 2 + len(medusa.ROWS)
    assert all(line.split()[-2:] == ["5.00x", "3.33x"] for line in out[2:])
    assert medusa.problems(result) == []
    result["giftwell"]["ledger_ok"] = False
    assert medusa.problems(result) == ["ledger verify failed after the Medusa comparison"]


def test_the_database_cpu_counts_the_postmaster_its_children_and_the_exited_ones(tmp_path):
    # This process stands in for the postmaster: a child that burns CPU and exits is still counted.
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n{tmp_path}\n")
    before = fixedload.postgres_cpu_seconds(tmp_path)
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    assert fixedload.postgres_cpu_seconds(tmp_path) - before >= 0.05


def test_an_npm_that_cannot_reach_the_registry_skips_the_comparison_with_its_error(monkeypatch, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\necho 'npm error code ENOTFOUND registry.npmjs.org' >&2\nexit 1\n")
    npm.chmod(0o755)
    (bin_dir / "node").symlink_to("/bin/true")  # found; never run before npm install
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setattr(medusa, "CACHE", tmp_path / "cache")
    result = medusa.measure(tmp_path, durable=False)
    assert result["skipped"].startswith("npm install exited 1: npm error code ENOTFOUND")
    assert (tmp_path / "cache" / "package.json").read_text() == (medusa.PROJECT / "package.json").read_text()
    assert medusa.problems(result) == []
