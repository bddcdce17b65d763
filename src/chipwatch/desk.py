"""The compliance desk: the library's questions behind API keys, with every answer audited.

The HTTP API (`chipwatch.api`) and the web desk (`chipwatch.web`) are thin maps onto this class, so
both enforce the same roles and write the same audit records:

- viewer: ask questions (classify, determine, screen, ledger, simulate) and read its own records;
- officer: also batch jobs, the whole audit log and its export;
- admin: also import restricted-party lists and manage keys.

Every answer is recorded in the audit log (`chipwatch.store`) and the record is committed before
the answer is returned. Batch jobs save their input under the home folder, run in chunks (each
chunk's result rows and audit records in one transaction) and resume after a crash from the last
committed row.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from chipwatch.answer import Step
from chipwatch.batch import OUTPUT as BATCH_OUTPUT
from chipwatch.catalog import Chip, MemoryStack, System, SystemPart, custom_chip, default_catalog
from chipwatch.classify import Classification, FoundryFacts, classify
from chipwatch.determine import Determination, Transaction, law_version_on
from chipwatch.errors import ChipwatchError, InvalidInput
from chipwatch.jurisdictions import determine_in
from chipwatch.law import BUILTIN_REGIMES, Law, load_law
from chipwatch.law.model import RuleVersion
from chipwatch.ledger import LedgerReport
from chipwatch.screen import ScreeningResult
from chipwatch.screen.model import ListVersion
from chipwatch.store import AUDIT_PAGE, ROLES, JsonText, NewRecord, Store, StoreError

T = TypeVar("T")
DETERMINE_COLUMNS = tuple(BATCH_OUTPUT)
Role = Literal["viewer", "officer", "admin"]
Jurisdiction = Literal["US-EAR", "CN-ECL", "all"]
JobKind = Literal["determine", "screen"]
JobStatus = Literal["queued", "running", "done", "failed", "interrupted"]
TopsFormat = Literal["fp64", "fp32", "tf32", "fp16", "fp8", "fp6", "fp4", "int8", "int4"]

# Simulator paths per request (all policies together): bounded so one request cannot hold a worker for minutes.
MAX_PATHS = int(os.environ.get("CHIPWATCH_MAX_SIM_PATHS", "40000"))
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
CHUNK_ROWS = int(os.environ.get("CHIPWATCH_JOB_CHUNK", "200"))  # rows a batch commits at a time
POLL_SECONDS = 0.5  # how often an idle job runner looks for work
HITS_PER_PARTY = 5  # hits kept per party in a screening batch (as the CLI)
SCREEN_COLUMNS = ("row", "query", "query_country", "hit_count", "top_list", "top_name", "top_score", "hits", "error")
SIM_NOTE = ("bands show what the mechanisms do with the sampled parameters; `chipwatch simulate --backtest` shows how "
            "the historical run compares with published figures")


# --- errors ---------------------------------------------------------------------------------------


class Unauthorized(ChipwatchError):
    """No API key, or one the desk does not know (or has revoked)."""


class Forbidden(ChipwatchError):
    """The key is valid, but its role may not do this."""


class NotFound(ChipwatchError):
    """No such job, audit record or key."""


# --- requests and answers -------------------------------------------------------------------------


class Caller(BaseModel):
    model_config = ConfigDict(frozen=True)

    key_id: str = Field(description="short public id of the API key")
    name: str
    role: Role


class Audited(BaseModel, Generic[T]):
    """An answer and the id of its audit record (committed before the answer was returned)."""

    answer: T
    audit_id: int


class ClassifyRequest(BaseModel):
    """Classify a catalog chip (`item`), a chip given by its figures (`tops`), an HBM stack
    (`bandwidth_gbs` + `package_area_mm2`) or a system of catalog chips (`contains`)."""

    model_config = ConfigDict(extra="forbid")

    item: str | None = Field(default=None, description="catalog chip name or alias", examples=["H100 SXM"])
    tops: dict[TopsFormat, float] | None = Field(default=None, description="dense TFLOPS/TOPS by number format")
    die_area_mm2: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    interconnect_gbs: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    datacenter: bool | None = None
    process_node: str | None = Field(default=None, max_length=100)
    bandwidth_gbs: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="HBM stack bandwidth")
    package_area_mm2: float | None = Field(default=None, gt=0, allow_inf_nan=False, description="HBM package area")
    co_packaged: bool = False
    contains: dict[str, int] | None = Field(default=None, description="a system: catalog chip name -> count")
    name: str = Field(default="custom item", max_length=200, description="label of an item given by figures")
    base_eccn: str | None = Field(default=None, max_length=20)
    foundry: FoundryFacts = Field(default_factory=FoundryFacts)
    date: dt.date
    regime: str = "historical"

    @model_validator(mode="after")
    def _one_item(self) -> ClassifyRequest:
        given = [k for k, v in (("item", self.item), ("tops", self.tops),
                                ("bandwidth_gbs/package_area_mm2", self.bandwidth_gbs or self.package_area_mm2),
                                ("contains", self.contains)) if v]
        if len(given) != 1:
            raise ValueError("give exactly one of item, tops, bandwidth_gbs with package_area_mm2, contains"
                             + (f" (got {', '.join(given)})" if given else ""))
        if self.tops is not None and any(not (v > 0 and v < float("inf")) for v in self.tops.values()):
            raise ValueError("tops: every rate must be a positive finite number")
        if self.contains is not None and any(n < 1 for n in self.contains.values()):
            raise ValueError("contains: each chip count must be at least 1")
        if (self.bandwidth_gbs is None) != (self.package_area_mm2 is None):
            raise ValueError("an HBM stack needs both bandwidth_gbs and package_area_mm2")
        return self


class DetermineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    transaction: Transaction
    regime: str = "historical"
    as_written: bool = Field(default=False, description="set aside policy announced but not codified")
    jurisdiction: Jurisdiction | None = Field(default=None, description="None: picked from the exporter's country")


class ScreenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=500)
    country: str | None = Field(default=None, max_length=60)
    address: str | None = Field(default=None, max_length=1000)
    date: dt.date | None = None
    threshold: float | None = Field(default=None, ge=0, le=1)


class SimulateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policies: list[str] = Field(default_factory=lambda: ["historical", "blockade", "targeted"], min_length=1, max_length=8)
    paths: int = Field(default=1000, ge=1, le=MAX_PATHS)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)

    @model_validator(mode="after")
    def _bounded(self) -> SimulateRequest:
        if self.paths * len(set(self.policies)) > MAX_PATHS:
            raise ValueError(f"paths × policies must be at most {MAX_PATHS:,} (got {self.paths:,} × {len(set(self.policies))})")
        return self


class Band(BaseModel):
    """Median and 10-90 % band of one output of one policy at the end of a year (None where undefined).
    Its own model, not the simulator's, so the desk loads even while the simulator is being changed."""

    policy: str
    output: str
    year: int
    p10: float | None
    median: float | None
    p90: float | None


class SimulationSeries(BaseModel):
    """One output of one policy per quarter: median and 10-90 % band (None where undefined)."""

    policy: str
    output: str
    quarters: list[dt.date]
    p10: list[float | None]
    median: list[float | None]
    p90: list[float | None]


class SimulationAnswer(BaseModel):
    policies: list[str]
    paths: int
    seed: int
    calibrated: bool
    note: str
    bands: list[Band]
    series: list[SimulationSeries]


class Job(BaseModel):
    id: str
    kind: JobKind
    status: JobStatus
    rows_total: int | None
    rows_done: int
    created_at: datetime
    finished_at: datetime | None
    error: str | None
    filename: str
    key_id: str


class AuditRecord(BaseModel):
    id: int
    at: datetime
    key_id: str
    user: str
    action: str
    inputs: dict[str, Any]
    answer: dict[str, Any]
    trace: list[Any]
    rule_version: str | None
    list_version: str | None
    job_id: str | None
    row: int | None
    prev_hash: str
    hash: str


class KeyInfo(BaseModel):
    key_id: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


class VerifyReport(BaseModel):
    records: int
    ok: bool
    problems: list[str]


# Parametrised once: pydantic keeps generic classes only weakly, so `Audited[X]` written in a
# method body would rebuild the class (half a millisecond) whenever the last one was collected.
AuditedClassification = Audited[Classification]
AuditedDeterminations = Audited[list[Determination]]
AuditedScreening = Audited[ScreeningResult]
AuditedLedger = Audited[LedgerReport]
AuditedSimulation = Audited[SimulationAnswer]
_STEPS = TypeAdapter(list[Step])
_NO_TRACE = {"trace"}


# --- helpers --------------------------------------------------------------------------------------


def default_home() -> Path:
    """$CHIPWATCH_HOME, else the user data folder (XDG on Linux, the platform's elsewhere)."""
    env = os.environ.get("CHIPWATCH_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "chipwatch"


def _law(regime: str) -> Law:
    # The desk takes built-in regimes only: a file path from a request would read files on the server.
    if regime not in BUILTIN_REGIMES:
        raise InvalidInput(f"regime: unknown {regime!r} (known: {', '.join(BUILTIN_REGIMES)})")
    return load_law(regime)


def _jsonable(obj: Any) -> Any:
    """Plain JSON values: dates as ISO text, NaN and infinities as None (JSON has no such numbers)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if isinstance(obj, BaseModel):
        return _jsonable(obj.model_dump(mode="json"))
    return str(obj)


def _finite(xs: np.ndarray) -> list[float | None]:
    return [float(x) if np.isfinite(x) else None for x in xs]


def _list_version() -> str:
    """The list versions screening uses now, e.g. 'EL v3, MEU v3' (or the bundled sample)."""
    from chipwatch.screen import current_index

    return current_index().versions_label  # worked out once per index (a new one comes with each import)


def _runner_id() -> str:
    return f"{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    """The process's start time (Linux /proc), so a reused pid is not taken for the old process."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def runner_is_dead(runner: str | None) -> bool:
    if not runner:
        return True
    pid_text, _, started = runner.partition(":")
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except (ValueError, ProcessLookupError):
        return True
    except PermissionError:
        return False
    return started != "?" and _start_time(pid) != started


def _read_table(data: bytes, filename: str) -> pl.DataFrame:
    """An uploaded CSV or Parquet file, every column as given (text for CSV)."""
    if not data:
        raise InvalidInput(f"{filename}: the file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidInput(f"{filename}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    suffix = Path(filename).suffix.lower()
    try:
        if suffix == ".parquet":
            return pl.read_parquet(io.BytesIO(data))
        if suffix in (".csv", ".txt", ""):
            return pl.read_csv(io.BytesIO(data), infer_schema=False)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        raise InvalidInput(f"{filename}: cannot read: {' '.join(str(exc).split())[:300]}") from None
    raise InvalidInput(f"{filename}: give a .csv or .parquet file")


def _job(row: Any) -> Job:
    return Job(id=row["id"], kind=row["kind"], status=row["status"], rows_total=row["rows_total"], rows_done=row["rows_done"],
               created_at=row["created_at"], finished_at=row["finished_at"], error=row["error"], filename=row["filename"],
               key_id=row["key_id"])


def _record(row: Any) -> AuditRecord:
    inputs, answer = json.loads(row["inputs"]), json.loads(row["answer"])
    return AuditRecord(id=row["id"], at=row["at"], key_id=row["key_id"], user=row["user"], action=row["action"],
                       inputs=inputs if isinstance(inputs, dict) else {"value": inputs},
                       answer=answer if isinstance(answer, dict) else {"value": answer},
                       trace=json.loads(row["trace"]), rule_version=row["rule_version"], list_version=row["list_version"],
                       job_id=row["job_id"], row=row["row"], prev_hash=row["prev_hash"], hash=row["hash"])


# --- the desk -------------------------------------------------------------------------------------


class Desk:
    """One desk per server process: the database, the job runner and the role checks."""

    def __init__(self, home: Path | None = None, *, run_jobs: bool = True) -> None:
        self.home = (home or default_home()).expanduser().resolve()
        self.home.mkdir(parents=True, exist_ok=True)
        # The list store and screening read CHIPWATCH_HOME: point them at this desk's home.
        os.environ["CHIPWATCH_HOME"] = str(self.home)
        self.store = Store(self.home)
        self.jobs_dir = self.home / "jobs"
        self._run_jobs = run_jobs
        self._runner: threading.Thread | None = None
        self._wake = threading.Event()
        self._runner_lock = threading.Lock()
        if run_jobs:
            self.store.mark_dead_runs_interrupted(runner_is_dead)

    # --- keys and roles ---------------------------------------------------------------------------

    def authenticate(self, api_key: str | None) -> Caller:
        if not api_key or not api_key.strip():
            raise Unauthorized("no API key: send it in the X-API-Key header (or Authorization: Bearer KEY)")
        row = self.store.key_by_secret(api_key.strip())
        if row is None:
            raise Unauthorized("unknown or revoked API key")
        return Caller(key_id=row["key_id"], name=row["name"], role=row["role"])

    @staticmethod
    def require(caller: Caller, role: Role, what: str) -> None:
        if ROLES.index(caller.role) < ROLES.index(role):
            raise Forbidden(f"{what} needs the {role} role; key {caller.key_id} ({caller.name}) is {caller.role}")

    def create_key(self, name: str, role: Role, caller: Caller | None = None) -> tuple[str, Caller]:
        """A new key; the secret is returned once and only its hash is stored. Without `caller`
        (the local CLI, which has the database file) no role check applies."""
        if caller is not None:
            self.require(caller, "admin", "creating keys")
        if role not in ROLES:
            raise InvalidInput(f"role: {role!r} is not one of {', '.join(ROLES)}")
        if not name.strip():
            raise InvalidInput("name: give the key a name (who or what uses it)")
        key_id, secret = self.store.create_key(name.strip(), role)
        if caller is not None:
            self._audit(caller, "keys.create", {"name": name, "role": role}, {"key_id": key_id})
        return secret, Caller(key_id=key_id, name=name.strip(), role=role)

    def ensure_admin_key(self) -> str | None:
        """On a first start (no key at all) create an admin key and return its secret, else None."""
        if self.store.key_rows():
            return None
        secret, _ = self.create_key("admin (created at first start)", "admin")
        return secret

    def list_keys(self, caller: Caller | None = None) -> list[KeyInfo]:
        if caller is not None:
            self.require(caller, "admin", "listing keys")
        return [KeyInfo(**dict(r)) for r in self.store.key_rows()]

    def revoke_key(self, key_id: str, caller: Caller | None = None) -> KeyInfo:
        if caller is not None:
            self.require(caller, "admin", "revoking keys")
        known = {k.key_id: k for k in self.list_keys()}
        if key_id not in known:
            raise NotFound(f"no key {key_id!r}")
        if known[key_id].revoked_at is not None:
            return known[key_id]
        if known[key_id].role == "admin" and self.store.active_admins() <= 1:
            raise InvalidInput(f"key {key_id} is the last admin key: create another admin key before revoking it")
        self.store.revoke_key(key_id)
        if caller is not None:
            self._audit(caller, "keys.revoke", {"key_id": key_id}, {"revoked": True})
        return {k.key_id: k for k in self.list_keys()}[key_id]

    # --- audit ------------------------------------------------------------------------------------

    def _audit(self, caller: Caller, action: str, inputs: Any, answer: Any, *, trace: Any = (),
               rule_version: str | None = None, list_version: str | None = None, plain: bool = False) -> int:
        """Record and wait for the commit. `plain`: the values are already JSON (a pydantic
        model_dump(mode="json") without NaN), so the costly clean-up walk is skipped."""
        clean = (lambda v: v) if plain else _jsonable
        return self.store.record(NewRecord(key_id=caller.key_id, user=caller.name, action=action, inputs=clean(inputs),
                                           answer=clean(answer), trace=clean(list(trace)),
                                           rule_version=rule_version, list_version=list_version))

    def audit(self, caller: Caller, *, limit: int = AUDIT_PAGE, offset: int = 0, action: str | None = None,
              key_id: str | None = None) -> list[AuditRecord]:
        """Newest first. Officers see every record; a viewer sees its own."""
        if ROLES.index(caller.role) < ROLES.index("officer"):
            if key_id not in (None, caller.key_id):
                raise Forbidden(f"a viewer sees only its own records (key {caller.key_id})")
            key_id = caller.key_id
        if not (1 <= limit <= 1000) or offset < 0:
            raise InvalidInput("limit must be 1 to 1000 and offset at least 0")
        return [_record(r) for r in self.store.audit_rows(limit=limit, offset=offset, action=action, key_id=key_id)]

    def audit_record(self, audit_id: int, caller: Caller) -> AuditRecord:
        rows = self.store.audit_rows(audit_id=audit_id, limit=1)
        if not rows:
            raise NotFound(f"no audit record {audit_id}")
        rec = _record(rows[0])
        if ROLES.index(caller.role) < ROLES.index("officer") and rec.key_id != caller.key_id:
            raise Forbidden(f"audit record {audit_id} was written for another key; a viewer sees only its own")
        return rec

    def audit_frame(self) -> pl.DataFrame:
        cols = ["id", "at", "key_id", "user", "action", "inputs", "answer", "trace", "rule_version", "list_version",
                "job_id", "row", "prev_hash", "hash"]
        schema = {c: pl.Int64 if c in ("id", "row") else pl.String for c in cols}
        return pl.DataFrame([tuple(r) for r in self.store.audit_iter()], schema=schema, orient="row")

    def export_audit(self, caller: Caller | None, fmt: Literal["csv", "parquet"]) -> bytes:
        """The whole log (oldest first) as CSV or Parquet; the JSON fields stay JSON text."""
        if caller is not None:
            self.require(caller, "officer", "exporting the audit log")
        if fmt not in ("csv", "parquet"):
            raise InvalidInput(f"format: {fmt!r} is not csv or parquet")
        frame = self.audit_frame()
        buf = io.BytesIO()
        if fmt == "csv":
            frame.write_csv(buf)
        else:
            frame.write_parquet(buf)
        if caller is not None:
            self._audit(caller, "audit.export", {"format": fmt}, {"records": frame.height})
        return buf.getvalue()

    def verify_audit(self) -> VerifyReport:
        n, problems = self.store.verify()
        return VerifyReport(records=n, ok=not problems, problems=problems)

    # --- questions --------------------------------------------------------------------------------

    def classify(self, req: ClassifyRequest, caller: Caller) -> Audited[Classification]:
        law = _law(req.regime)
        cat = default_catalog()
        item: Chip | MemoryStack | System
        if req.item:
            item = cat.get(req.item)
        elif req.tops:
            item = custom_chip(req.name, dense_tops={str(k): v for k, v in req.tops.items()}, die_area_mm2=req.die_area_mm2,
                               interconnect_bandwidth_gbs=req.interconnect_gbs, datacenter=req.datacenter)
        elif req.contains:
            item = System(name=req.name if req.name != "custom item" else "system",
                          parts=tuple(SystemPart(chip=cat.get(n), count=k) for n, k in req.contains.items()))
        else:
            assert req.bandwidth_gbs is not None and req.package_area_mm2 is not None
            try:
                item = MemoryStack(name=req.name, bandwidth_gbs=req.bandwidth_gbs, package_area_mm2=req.package_area_mm2,
                                   co_packaged_with_logic=req.co_packaged)
            except ValueError as exc:
                raise InvalidInput(str(exc).splitlines()[-1].strip()) from None
        if req.process_node and isinstance(item, Chip):
            item = item.model_copy(update={"process_node": req.process_node})
        c = classify(item, req.date, law=law, base_eccn=req.base_eccn, foundry=req.foundry)
        answer = c.model_dump(mode="json")
        audit_id = self._audit(caller, "classify", req.model_dump(mode="json"), {k: v for k, v in answer.items() if k != "trace"},
                               trace=answer["trace"], rule_version=c.rule.id if c.rule else None, plain=True)
        return AuditedClassification(answer=c, audit_id=audit_id)

    def determine(self, req: DetermineRequest, caller: Caller) -> Audited[list[Determination]]:
        """One determination per jurisdiction asked for (picked from the exporter's country when none is given)."""
        answers, rec, _ = self._determination(req, caller)
        return AuditedDeterminations(answer=answers, audit_id=self.store.record(rec))

    def determine_started(self, req: DetermineRequest, caller: Caller) -> tuple[str, asyncio.Future[int]]:
        """`determine` for the HTTP API, called on its event loop: the answers as a JSON array and
        the pending commit of their audit record. The caller must await it before sending the answers."""
        _, rec, parts = self._determination(req, caller)
        # Each answer's JSON is the record's answer text with its trace put back as the last field
        # (serialised once, for both; the order of an object's fields carries no meaning in JSON).
        return "[" + ",".join(f'{a[:-1]},"trace":{t}}}' for a, t in parts) + "]", self.store.record_on_loop(rec)

    def _determination(self, req: DetermineRequest, caller: Caller) -> tuple[list[Determination], NewRecord, list[tuple[str, str]]]:
        _law(req.regime)  # built-in regimes only (a request must not name a file on the server)
        answers = determine_in(req.transaction, req.jurisdiction, regime=req.regime, include_announced=not req.as_written)
        first = answers[0] if answers else None
        # The record's JSON comes straight from pydantic's serializer (no dict round trip): the
        # answers without their traces, and the trace (one list per jurisdiction when there are several).
        parts = [(d.model_dump_json(exclude=_NO_TRACE), _STEPS.dump_json(d.trace).decode()) for d in answers]
        trace = parts[0][1] if len(parts) == 1 else "[" + ",".join(t for _, t in parts) + "]"
        rec = NewRecord(key_id=caller.key_id, user=caller.name, action="determine", inputs=JsonText(req.model_dump_json()),
                        answer=JsonText('{"determinations":[' + ",".join(a for a, _ in parts) + "]}"), trace=JsonText(trace),
                        rule_version=first.rule_version.id if first and first.rule_version else None,
                        list_version=_list_version())
        return answers, rec, parts

    def screen(self, req: ScreenRequest, caller: Caller) -> Audited[ScreeningResult]:
        from chipwatch.law.groups import country_code
        from chipwatch.screen import THRESHOLD, screen

        if not req.name.strip():
            raise InvalidInput("name: give a name to screen")
        cc = country_code(req.country) if req.country and req.country.strip() else None
        result = screen(req.name, cc, req.date or date.today(), address=req.address,
                        threshold=THRESHOLD if req.threshold is None else req.threshold)
        versions = ", ".join(f"{lid} v{v.version_id}" for v in result.list_versions for lid in v.list_ids)
        audit_id = self._audit(caller, "screen", req.model_dump(mode="json"), result.model_dump(mode="json"),
                               list_version=versions or _list_version())
        return AuditedScreening(answer=result, audit_id=audit_id)

    def ledger(self, shipments: bytes, filename: str, caller: Caller, licences: bytes | None = None,
               regime: str = "historical", as_written: bool = False) -> Audited[LedgerReport]:
        from chipwatch.ledger import ledger, read_licences

        law = _law(regime)
        frame = _read_table(shipments, filename)
        lic = None
        if licences is not None:
            lic_path = self._save_upload("licences", "licences.csv", licences)
            lic = read_licences(lic_path)
        try:
            report = ledger(frame, law=law, include_announced=not as_written, licences=lic)
        except pl.exceptions.PolarsError as exc:
            raise InvalidInput(f"{filename}: {' '.join(str(exc).split())[:300]}") from None
        audit_id = self._audit(caller, "ledger", {"filename": filename, "rows": frame.height, "regime": regime,
                                                  "as_written": as_written, "licences": licences is not None},
                               report.model_dump(mode="json"), rule_version=law_version_id(law))
        return AuditedLedger(answer=report, audit_id=audit_id)

    def simulate(self, req: SimulateRequest, caller: Caller) -> Audited[SimulationAnswer]:
        from chipwatch.simulate import OUTPUTS, bands, run
        from chipwatch.simulate.model import sample

        for p in req.policies:
            _law(p)
        draws = sample(req.paths, req.seed)
        results = {p: run(p, req.paths, req.seed, draws=draws) for p in dict.fromkeys(req.policies)}
        band_rows = [Band(policy=b.policy, output=b.output, year=b.year,
                          **{k: (v if np.isfinite(v) else None) for k, v in (("p10", b.p10), ("median", b.median), ("p90", b.p90))})
                     for r in results.values() for b in bands(r)]
        series = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-undefined quarters give NaN, shown as None
            for p, r in results.items():
                for name in OUTPUTS:
                    values = r.output(name)
                    values = np.where(np.isfinite(values), values, np.nan)
                    p10, p90 = np.nanpercentile(values, [10, 90], axis=1)
                    med = np.nanmedian(values, axis=1)
                    series.append(SimulationSeries(policy=p, output=name, quarters=r.quarters, p10=_finite(p10),
                                                   median=_finite(med), p90=_finite(p90)))
        answer = SimulationAnswer(policies=list(results), paths=req.paths, seed=req.seed, calibrated=False, note=SIM_NOTE,
                                  bands=band_rows, series=series)
        audit_id = self._audit(caller, "simulate", req.model_dump(mode="json"),
                               {"bands": [b.model_dump(mode="json") for b in band_rows], "calibrated": False})
        return AuditedSimulation(answer=answer, audit_id=audit_id)

    def list_versions(self) -> list[ListVersion]:
        """The stored list versions, oldest first (the bundled sample when none is imported)."""
        from chipwatch.screen.store import default_store, load_sample

        stored = default_store().versions()
        return stored or [load_sample()[1]]

    def rule_versions(self) -> list[RuleVersion]:
        return sorted(load_law().rule_versions.values(), key=lambda r: (r.effective, r.id))

    def import_list(self, data: bytes, filename: str, caller: Caller, fmt: str | None = None) -> ListVersion:
        from chipwatch.screen.store import default_store

        self.require(caller, "admin", "importing lists")
        if not data:
            raise InvalidInput(f"{filename}: the file is empty")
        path = self._save_upload("lists", filename, data)
        result = default_store().import_path(path, fmt)
        self._audit(caller, "lists.import", {"filename": filename, "format": fmt},
                    {**result.version.model_dump(mode="json"), "created": result.created},
                    list_version=f"v{result.version.version_id}")
        return result.version

    def _save_upload(self, folder: str, filename: str, data: bytes) -> Path:
        safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in Path(filename).name)[:100] or "upload"
        dest = self.home / "uploads" / folder / f"{uuid.uuid4().hex[:12]}-{safe}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return dest

    # --- batch jobs -------------------------------------------------------------------------------

    def submit_batch(self, kind: str, filename: str, data: bytes, caller: Caller, *, regime: str = "historical",
                     as_written: bool = False) -> Job:
        """Save the upload under the home folder, check it, and queue it; a runner thread does the rows."""
        self.require(caller, "officer", "batch jobs")
        if kind not in ("determine", "screen"):
            raise InvalidInput(f"kind: {kind!r} is not determine or screen")
        _law(regime)
        frame = _read_table(data, filename)
        need = ("name",) if kind == "screen" else ("quantity", "destination", "date")
        missing = [c for c in need if c not in frame.columns]
        if missing:
            raise InvalidInput(f"{filename}: needs column(s) {', '.join(missing)}")
        if frame.height == 0:
            raise InvalidInput(f"{filename}: no rows")
        job_id = uuid.uuid4().hex[:20]
        folder = self.jobs_dir / job_id
        folder.mkdir(parents=True)
        suffix = ".parquet" if Path(filename).suffix.lower() == ".parquet" else ".csv"
        input_path = folder / f"input{suffix}"
        input_path.write_bytes(data)
        with open(input_path, "rb") as fh:  # the input is durable before the job that points to it
            os.fsync(fh.fileno())
        self.store.create_job({"id": job_id, "kind": kind, "status": "queued", "rows_total": frame.height, "rows_done": 0,
                               "created_at": datetime.now(UTC).isoformat(), "filename": Path(filename).name[:200],
                               "input_path": str(input_path), "key_id": caller.key_id, "user": caller.name,
                               "options": json.dumps({"regime": regime, "as_written": as_written})})
        self.start_runner()
        self._wake.set()
        return self.job(job_id, caller)

    def jobs(self, caller: Caller, limit: int = 20) -> list[Job]:
        self.require(caller, "officer", "batch jobs")
        return [_job(r) for r in self.store.job_list(limit)]

    def job(self, job_id: str, caller: Caller) -> Job:
        self.require(caller, "officer", "batch jobs")
        row = self.store.job_row(job_id)
        if row is None:
            raise NotFound(f"no job {job_id!r}")
        return _job(row)

    def job_result(self, job_id: str, caller: Caller) -> pl.DataFrame:
        """The result rows committed so far (all of them once the job is done), in row order."""
        job = self.job(job_id, caller)
        rows = [json.loads(text) for _, text in self.store.job_results(job.id)]
        if not rows:
            return pl.DataFrame(schema={"row": pl.Int64})
        frame = pl.from_dicts(rows, infer_schema_length=None)
        order = DETERMINE_COLUMNS if job.kind == "determine" else SCREEN_COLUMNS
        return frame.select([c for c in order if c in frame.columns] + [c for c in frame.columns if c not in order])

    def prepare(self) -> None:
        """Load what the first questions would otherwise load (the laws, the catalog, the screening
        index), classify every catalog chip once per period of the law, and answer a sample question
        per period in both jurisdictions, all unrecorded (nobody asked them). A server calls this
        before it takes requests: the first question in a fresh process took ~0.4 s, and at 500
        requests a second some 200 requests queued behind it."""
        from chipwatch.determine import item_facts, law_change_dates

        _list_version()
        law = _law("historical").as_written(True)
        chips = [c.name for c in default_catalog()]
        today = date.today()
        first = law.first_effective()
        for on in [d for d in law_change_dates(law) if first <= d <= today] + [today]:
            for chip in chips:
                item_facts(Transaction(item=chip, destination="CN", quantity=1, date=on), law)
            for d in determine_in(Transaction(item=chips[0], destination="CN", quantity=1, date=on), "all"):
                d.model_dump_json()

    def start_runner(self) -> None:
        """Start this process's job runner thread (once)."""
        if not self._run_jobs:
            return
        with self._runner_lock:
            if self._runner is None or not self._runner.is_alive():
                self._runner = threading.Thread(target=self._runner_loop, name="chipwatch-jobs", daemon=True)
                self._runner.start()

    def _runner_loop(self) -> None:
        runner = _runner_id()
        while True:
            try:
                row = self.store.claim_job(runner, runner_is_dead)
            except StoreError:
                row = None
            if row is None:
                self._wake.wait(POLL_SECONDS)
                self._wake.clear()
                continue
            self.run_job(row, runner)

    def run_job(self, row: Any, runner: str) -> None:
        """Run (or resume) one claimed job from its first row not yet committed."""
        job_id = row["id"]
        try:
            opts = json.loads(row["options"])
            frame = _read_table(Path(row["input_path"]).read_bytes(), row["input_path"])
            total = frame.height
            done = row["rows_done"]
            process: Callable[[pl.DataFrame, int], list[tuple[int, dict[str, Any], NewRecord]]]
            if row["kind"] == "determine":
                law = _law(opts["regime"]).as_written(not opts["as_written"])
                process = _determine_chunk(law, row)
            else:
                process = _screen_chunk(row)
            while done < total:
                part = frame.slice(done, CHUNK_ROWS)
                out = process(part, done)
                done += part.height
                self.store.commit_chunk(job_id, runner, [(r, res) for r, res, _ in out], [rec for _, _, rec in out], done)
            self.store.update_job(job_id, status="done", finished_at=datetime.now(UTC).isoformat(), runner=None)
        except StoreError:
            return  # another process took the job over; it carries on from the committed rows
        except (ChipwatchError, OSError, pl.exceptions.PolarsError, KeyError, ValueError) as exc:
            self.store.update_job(job_id, status="failed", finished_at=datetime.now(UTC).isoformat(),
                                  error=" ".join(str(exc).split())[:500], runner=None)


def law_version_id(law: Law) -> str | None:
    rv = law_version_on(law, date.today())
    return rv.id if rv else None


def _determine_chunk(law: Law, job: Any) -> Callable[[pl.DataFrame, int], list[tuple[int, dict[str, Any], NewRecord]]]:
    from chipwatch.batch import determine_frame

    versions: dict[Any, str | None] = {}
    list_version = _list_version()

    def rule_id(on: Any) -> str | None:
        if on not in versions:
            rv = law_version_on(law, on) if isinstance(on, date) else None
            versions[on] = rv.id if rv else None
        return versions[on]

    def process(part: pl.DataFrame, offset: int) -> list[tuple[int, dict[str, Any], NewRecord]]:
        result = determine_frame(part, law=law, include_announced=law.include_announced)
        inputs = part.to_dicts()
        out = []
        for res in result.to_dicts():
            row = int(res["row"]) + offset
            res = _jsonable({**res, "row": row})
            out.append((row, res, NewRecord(key_id=job["key_id"], user=job["user"], action="determine.batch",
                                            inputs=_jsonable(inputs[row - offset - 1]), answer=res,
                                            rule_version=rule_id(res.get("date") and _as_date(res["date"])),
                                            list_version=list_version, job_id=job["id"], row=row)))
        return out

    return process


def _as_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _screen_chunk(job: Any) -> Callable[[pl.DataFrame, int], list[tuple[int, dict[str, Any], NewRecord]]]:
    from chipwatch.law.groups import country_code
    from chipwatch.screen import THRESHOLD, current_index

    index = current_index()
    list_version = ", ".join(sorted(f"{lid} v{v.version_id}" for lid, v in index.versions.items())) or "none"

    def process(part: pl.DataFrame, offset: int) -> list[tuple[int, dict[str, Any], NewRecord]]:
        out = []
        for i, rec in enumerate(part.to_dicts(), start=offset + 1):
            name = rec.get("name")
            country = rec.get("country")
            res: dict[str, Any] = {"row": i, "query": name, "query_country": None, "hit_count": 0, "top_list": None,
                                   "top_name": None, "top_score": None, "hits": "[]", "error": None}
            if name is None or not str(name).strip():
                res["error"] = "name: empty"
            else:
                try:
                    cc = country_code(str(country)) if country is not None and str(country).strip() else None
                except ChipwatchError as exc:
                    res["error"] = f"country: {exc}"
                else:
                    hits = index.screen(str(name), cc, threshold=THRESHOLD, limit=HITS_PER_PARTY)
                    res.update(query_country=cc, hit_count=len(hits),
                               hits=json.dumps([h.model_dump(mode="json", exclude={"features"}) for h in hits], ensure_ascii=False))
                    if hits:
                        res.update(top_list=hits[0].list, top_name=hits[0].name, top_score=hits[0].score)
            out.append((i, res, NewRecord(key_id=job["key_id"], user=job["user"], action="screen.batch", inputs=_jsonable(rec),
                                          answer=res, list_version=list_version, job_id=job["id"], row=i)))
        return out

    return process


def wait_for(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll `predicate` until it holds or `timeout` seconds pass (for the CLI and tests)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
