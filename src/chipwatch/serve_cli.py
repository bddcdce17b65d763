"""`chipwatch serve`, `chipwatch keys ...` and `chipwatch audit ...`: run the desk and look after it.

Registered from `chipwatch.cli` by `register(app)`. The key and audit commands open the desk
database directly (whoever can read the home folder is its administrator), so they need no key.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from chipwatch.errors import InvalidInput

if TYPE_CHECKING:
    from chipwatch.desk import Desk

keys_app = typer.Typer(no_args_is_help=True, add_completion=False, help="API keys of the desk: create, list, revoke.")
audit_app = typer.Typer(no_args_is_help=True, add_completion=False, help="The audit log: export it, verify its hash chain.")

HomeOpt = Annotated[str | None, typer.Option("--home", help="Data folder (default: $CHIPWATCH_HOME or the user data folder).")]
MAX_WORKERS = 64
PROBLEMS_SHOWN = 20  # damaged records listed on the terminal


def _desk(home: str | None) -> Desk:
    from chipwatch.desk import Desk  # deferred: `chipwatch --help` stays fast

    return Desk(Path(home) if home else None, run_jobs=False)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes (one per core is a good start).")] = 1,
    home: HomeOpt = None,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log",
                                             help="Log every request (the audit log records every answer anyway).")] = False,
) -> None:
    """Run the API and the web desk on the bundled data, with the audit log in the data folder."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE

    from chipwatch.workers import ReusePortWorkers, can_share_port

    if not 1 <= workers <= MAX_WORKERS:
        raise InvalidInput(f"--workers must be 1 to {MAX_WORKERS}")
    if not 0 < port < 65536:
        raise InvalidInput("--port must be 1 to 65535")
    desk = _desk(home)
    os.environ["CHIPWATCH_HOME"] = str(desk.home)  # the worker processes build their desk from it
    secret = desk.ensure_admin_key()
    out = Console(stderr=True)
    out.print(f"chipwatch desk: data in {desk.home}")
    if secret:
        out.print("[bold]First start: an admin API key was created. It is shown only this once; keep it safe:[/bold]")
        sys.stdout.write(f"{secret}\n")
        sys.stdout.flush()
    out.print(f"API on http://{host}:{port}/v1 (OpenAPI at /openapi.json, docs at /docs)")
    options = {"factory": True, "host": host, "port": port, "workers": workers, "access_log": access_log,
               "log_level": "info", "timeout_graceful_shutdown": 5}
    if workers == 1 or not can_share_port():
        uvicorn.run("chipwatch.api:app_from_env", **options)  # type: ignore[arg-type]
        return
    # Several workers: each on its own socket (see chipwatch.workers for why not uvicorn's supervisor).
    try:
        workers_ = ReusePortWorkers(uvicorn.Config("chipwatch.api:app_from_env", **options), workers)  # type: ignore[arg-type]
    except OSError as exc:
        raise InvalidInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    if not workers_.run():
        raise typer.Exit(STARTUP_FAILURE)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    role: Annotated[str, typer.Option("--role", help="viewer, officer or admin.")] = "viewer",
    home: HomeOpt = None,
) -> None:
    """Create a key; its secret is printed once (only a hash is stored)."""
    if role not in ("viewer", "officer", "admin"):
        raise InvalidInput(f"--role must be viewer, officer or admin, not {role!r}")
    secret, caller = _desk(home).create_key(name, role)  # type: ignore[arg-type]
    Console(stderr=True).print(f"key {caller.key_id} ({caller.name}, {caller.role}); the secret is shown only now:")
    sys.stdout.write(f"{secret}\n")


@keys_app.command("list")
def keys_list(home: HomeOpt = None) -> None:
    """Every key: id, name, role, created, revoked (never the secrets, which are not stored)."""
    t = Table("key id", "name", "role", "created", "revoked")
    for k in _desk(home).list_keys():
        t.add_row(k.key_id, k.name, k.role, k.created_at.isoformat(timespec="seconds"),
                  k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "—")
    Console(soft_wrap=True).print(t)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (as `keys list` shows).")], home: HomeOpt = None) -> None:
    """Revoke a key: it stops working at once, in every worker."""
    k = _desk(home).revoke_key(key_id)
    Console(soft_wrap=True).print(f"key {k.key_id} ({k.name}) revoked at {k.revoked_at}")


@audit_app.command("export")
def audit_export(
    output: Annotated[str, typer.Option("--output", "-o", help="File to write.")],
    format_: Annotated[str | None, typer.Option("--format", help="csv or parquet (default: from the file name).")] = None,
    home: HomeOpt = None,
) -> None:
    """Write the whole audit log, oldest first, as CSV or Parquet."""
    fmt = format_ or Path(output).suffix.lower().lstrip(".")
    if fmt not in ("csv", "parquet"):
        raise InvalidInput("--format must be csv or parquet (or name the file .csv / .parquet)")
    data = _desk(home).export_audit(None, fmt)  # type: ignore[arg-type]
    Path(output).write_bytes(data)
    Console(soft_wrap=True).print(f"audit log written to {output} ({len(data):,} bytes)")


@audit_app.command("verify")
def audit_verify(home: HomeOpt = None) -> None:
    """Recompute the hash chain; exit 1 if any record was changed, removed or reordered."""
    report = _desk(home).verify_audit()
    out = Console(soft_wrap=True)
    if report.ok:
        out.print(f"audit log intact: {report.records} records, hash chain verified")
        return
    out.print(f"[bold red]audit log damaged[/bold red]: {len(report.problems)} problem(s) in {report.records} records")
    for p in report.problems[:PROBLEMS_SHOWN]:
        out.print(f"  {p}")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
