"""`giftwell keys ...`: rotate the encryption keys and see which key each secret is under."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from giftwell.cli.common import JsonOpt, run
from giftwell.cli.output import emit
from giftwell.services import rotation
from giftwell.services.runtime import Runtime

keys_app = typer.Typer(help="Encryption keys: rotate, status.", no_args_is_help=True)


@keys_app.command("rotate")
def keys_rotate(
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Re-encrypt every secret under the current key (GIFTWELL_SECRET_KEY, or the key file's
    highest version), batch by batch, while Giftwell serves. Resumable: run it again after an
    interruption and it continues where it stopped. Keep the previous key configured
    (GIFTWELL_SECRET_KEY_PREVIOUS) until it has finished, and while tokens issued before must work."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    async def go(rt: Runtime) -> dict[str, Any]:
        sizes = await rotation.table_sizes(rt)
        done: list[rotation.TableProgress] = []
        show = not as_json and sys.stderr.isatty()
        with Progress(
            TextColumn("{task.description:<20}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=not show,
            transient=False,
        ) as bar:
            for t in rotation.TARGETS:
                task = bar.add_task(t.name, total=sizes[t.name])
                while True:
                    p = await rotation.rotate_batch(rt, t, batch=batch)
                    bar.update(task, completed=min(p.rows_seen, sizes[t.name]) if not p.done else sizes[t.name])
                    if p.done:
                        done.append(p)
                        break
        await rotation.record_finished(rt, done)
        return {
            "key_id": rt.keys.current_kid,
            "still_read": list(rt.keys.kids[1:]),
            "tables": {p.table: {"rows": p.rows_seen, "rewritten": p.rows_changed} for p in done},
        }

    result = run(go, as_json)
    emit(
        result,
        as_json,
        lambda d: "\n".join(
            [f"every secret is now under key {d['key_id']}"]
            + [f"  {name}: {v['rewritten']} of {v['rows']} rows rewritten" for name, v in d["tables"].items()]
        ),
    )


@keys_app.command("status")
def keys_status(as_json: JsonOpt = False) -> None:
    """How many secrets each table holds under each key id (reads every row)."""

    async def go(rt: Runtime) -> dict[str, Any]:
        return {
            "current": rt.keys.current_kid,
            "configured": list(rt.keys.kids),
            "tables": await rotation.key_usage(rt),
        }

    data = run(go, as_json)
    emit(
        data,
        as_json,
        lambda d: "\n".join(
            [f"current key {d['current']}; configured: {', '.join(d['configured'])}"]
            + [f"  {t}: " + (", ".join(f"{k} {n}" for k, n in c.items()) or "nothing") for t, c in d["tables"].items()]
        ),
    )
