"""CLI output: `--json` prints exactly one JSON document on stdout; otherwise a short human text.
Errors go to stderr (as `{"error": {...}}` with `--json`) with a non-zero exit status."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import typer

from giftwell.domain.errors import GiftwellError


def emit(data: Any, as_json: bool, human: Callable[[Any], str] | str) -> None:
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    else:
        typer.echo(human(data) if callable(human) else human)


def fail(exc: GiftwellError | str, as_json: bool, *, code: int = 1) -> NoReturn:
    if isinstance(exc, GiftwellError):
        err = {"code": exc.code, "message": exc.message, "param": exc.param}
    else:
        err = {"code": "error", "message": exc, "param": None}
    if as_json:
        sys.stderr.write(json.dumps({"error": err}) + "\n")
    else:
        typer.echo(f"error: {err['message']}", err=True)
    raise typer.Exit(code)
