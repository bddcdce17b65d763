"""`chipwatch lists`: import restricted-party list files, list the stored versions, show a list's entries.

Registered in `chipwatch.cli` as ``app.add_typer(lists_app, name="lists")``. Importing this module has no side
effects: the store is opened only when a command runs. Bad input (a malformed file, an unknown format or list)
raises a one-line `ChipwatchError`, which `chipwatch.cli.main` prints as "chipwatch: error: ..." with exit status 2.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from chipwatch.errors import ChipwatchError, InvalidInput
from chipwatch.screen.lists import FORMATS
from chipwatch.screen.model import ListEntry, ListVersion

__all__ = ["lists_app"]

lists_app = typer.Typer(no_args_is_help=True, add_completion=False,
                        help="Restricted-party lists: import official files, list the stored versions, show entries.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
SHOW_LIMIT = 20  # entries `show` prints unless --limit says otherwise
ALIASES_SHOWN = 3


def _out() -> Console:
    return Console(soft_wrap=True)


def _fail(exc: Exception | str) -> NoReturn:
    """Raise bad input as a one-line ChipwatchError (the CLI entry point turns it into exit status 2)."""
    msg = " ".join(str(exc).split())
    if isinstance(exc, ChipwatchError):
        raise type(exc)(msg) from None
    raise InvalidInput(msg)


def _warn(msg: str) -> None:
    sys.stderr.write(f"chipwatch: warning: {msg}\n")


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def _version_json(v: ListVersion, **extra: Any) -> dict[str, Any]:
    return {**v.model_dump(mode="json"), **extra}


@lists_app.command("import")
def import_cmd(
    file: Annotated[str, typer.Argument(help="A list file: trade.gov CSL (.csv/.json), eCFR Entity List (.xml/.txt), "
                                             "FollowTheMoney JSON lines, an nsfreg JSON file, or a chipwatch YAML list.")],
    format_: Annotated[str | None, typer.Option("--format", "-f", help=f"Format, when detection is wrong: {', '.join(FORMATS)}.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Read and validate the whole file, then store it as a new list version (nothing is stored if any record is bad)."""
    from chipwatch.screen.store import default_store, stale

    if format_ is not None and format_ not in FORMATS:
        _fail(f"--format {format_!r}: use one of {', '.join(FORMATS)}")
    try:
        result = default_store().import_path(file, format_)
    except ChipwatchError as exc:
        _fail(exc)
    v = result.version
    warning = stale(v, date.today())
    if warning:
        _warn(warning)
    if json_:
        _print_json(_version_json(v, created=result.created, notes=list(result.notes)))
        return
    out = _out()
    head = "imported as" if result.created else "already imported (same SHA-256): existing"
    out.print(f"{file}: {head} [bold]version {v.version_id}[/bold]")
    out.print(f"  lists     {', '.join(v.list_ids)}")
    out.print(f"  entries   {v.entries:,}")
    out.print(f"  format    {v.source_format}" + (f"  ({v.label})" if v.label else ""))
    out.print(f"  snapshot  {v.snapshot.isoformat() if v.snapshot else '— (the file gives no date)'}")
    out.print(f"  sha256    {v.sha256}")
    for note in result.notes if result.created else ():
        out.print(f"  [dim]note: {note}[/dim]")


@lists_app.command("list")
def list_cmd(json_: JsonOpt = False) -> None:
    """The stored list versions, oldest first, with the lists each one is current for."""
    from chipwatch.screen.store import default_store, load_sample, stale

    try:
        store = default_store()
        versions = store.versions()
        current = store.current_versions()
    except ChipwatchError as exc:
        _fail(exc)
    current_for: dict[int, list[str]] = {}
    for lid, cv in current.items():
        current_for.setdefault(cv.version_id, []).append(lid)
    today = date.today()
    if json_:
        _print_json([_version_json(v, current_for=current_for.get(v.version_id, []), stale=stale(v, today))
                     for v in versions])
        return
    out = _out()
    if not versions:
        _, sample = load_sample()
        out.print(f"No lists imported into {store.path}. Screening uses the bundled {sample.label} "
                  f"({sample.entries} entries). Import lists with `chipwatch lists import FILE`.")
        return
    t = Table(title=f"list versions in {store.path}", show_edge=False)
    for col in ("version", "imported (UTC)", "format", "lists", "current for", "entries", "snapshot", "sha256", "label"):
        t.add_column(col, no_wrap=col in ("version", "imported (UTC)", "sha256"))
    for v in versions:
        cur = current_for.get(v.version_id, [])
        t.add_row(str(v.version_id), v.imported_at.strftime("%Y-%m-%d %H:%M"), v.source_format, ", ".join(v.list_ids),
                  ", ".join(cur) or "[dim]superseded[/dim]", f"{v.entries:,}", v.snapshot.isoformat() if v.snapshot else "—",
                  v.sha256[:12], v.label or "")
    out.print(t)
    for v in versions:
        if current_for.get(v.version_id) and (w := stale(v, today)):
            out.print(f"[yellow]warning:[/yellow] {w}")


def _entry_row(e: ListEntry) -> list[str]:
    aliases = ", ".join(e.aliases[:ALIASES_SHOWN]) + (f" (+{len(e.aliases) - ALIASES_SHOWN})" if len(e.aliases) > ALIASES_SHOWN else "")
    cite = (e.cite or "—").splitlines()[0] + (" …" if e.cite and "\n" in e.cite else "")
    return [e.entry_id, e.name, aliases, e.country or "—", ", ".join(e.footnotes), cite,
            e.listed_on.isoformat() if e.listed_on else "—"]


@lists_app.command("show")
def show_cmd(
    list_id: Annotated[str, typer.Argument(help="A list id: EL, MEU, DPL, SDN, NS-CMIC, 1260H, ... (see `chipwatch lists list`).")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Entries to print (0: all).")] = SHOW_LIMIT,
    json_: JsonOpt = False,
) -> None:
    """The entries of the current version of one list."""
    from chipwatch.screen.store import default_store

    if limit < 0:
        _fail(f"--limit {limit}: give 0 (all) or a positive number")
    try:
        entries, versions = default_store().current_entries()
    except ChipwatchError as exc:
        _fail(exc)
    known = {lid.upper(): lid for lid in versions}
    key = list_id.strip().upper()
    lid = known.get(key) or known.get(f"SAMPLE-{key}")
    if lid is None:
        _fail(f"no list {list_id!r} in the store (lists: {', '.join(sorted(versions)) or 'none'})")
    version = versions[lid]
    selected = [e for e in entries if e.list_id == lid]
    shown = selected if limit == 0 else selected[:limit]
    if json_:
        _print_json({"list_id": lid, "version": _version_json(version), "total": len(selected),
                     "entries": [e.model_dump(mode="json") for e in shown]})
        return
    out = _out()
    snap = f", snapshot {version.snapshot.isoformat()}" if version.snapshot else ""
    out.print(f"[bold]{lid}[/bold]: {len(selected):,} entries in version {version.version_id} ({version.source_format}{snap})"
              + (f" — {version.label}" if version.label else "") + (f"; showing {len(shown)}" if len(shown) < len(selected) else ""))
    t = Table(show_edge=False)
    for col in ("entry", "name", "aliases", "country", "footnotes", "cite", "listed"):
        t.add_column(col, no_wrap=col in ("entry", "listed"))
    for e in shown:
        t.add_row(*_entry_row(e))
    out.print(t)
