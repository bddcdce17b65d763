"""The desk's embedded database: the audit log, the API keys and the batch jobs.

Why SQLite (in WAL mode, ``synchronous=FULL``) and not DuckDB, which holds the screening lists:

- Durability of each answer. SQLite in WAL mode with ``synchronous=FULL`` fsyncs the log at every
  commit, so a record whose commit returned survives ``kill -9`` and a power cut; the audit log is
  many small appends, SQLite's home ground. DuckDB is built for analytical scans, and its
  single-writer-process lock would stop two server workers from writing at all.
- Several processes (the ``--workers`` of the server, the CLI's ``audit verify``) can read while
  one writes, and writers queue on the lock (``busy_timeout``) instead of failing.
- Append-only is enforced by the database itself: triggers abort any UPDATE or DELETE of the
  audit table, whoever issues it.
- Tampering shows: each record's hash covers its fields and the previous record's hash (a hash
  chain), so editing, deleting or reordering records with another tool breaks `verify`.

Group commit keeps single requests fast: every record queued since the last commit is written in
one transaction (one fsync), and only then are the callers waiting for their audit ids released,
so a record is on disk before its answer leaves the server. Requests served on the event loop
commit there (`LoopCommitter`); other callers through one writer thread per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import os
import queue
import secrets
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chipwatch.errors import ChipwatchError

DB_NAME = "desk.sqlite3"
GENESIS = "0" * 64  # the "previous hash" of the first record
BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another process's transaction
SQLITE_MAX_INT = 2**63 - 1
GROUP_MAX = 512  # records one group commit takes at most
CHECKPOINT_EVERY = 64  # group commits between two checkpoints of the log (in the background)
ROLES = ("viewer", "officer", "admin")
AUDIT_PAGE = 20  # records a page of the audit log shows unless asked otherwise
JOB_STATES = ("queued", "running", "done", "failed", "interrupted")

# The fields a record's hash covers, in this order (the hash itself excluded, prev_hash included).
HASHED_FIELDS = ("id", "at", "key_id", "user", "action", "inputs", "answer", "trace", "rule_version", "list_version",
                 "job_id", "row", "prev_hash")

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    key_id TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    inputs TEXT NOT NULL,
    answer TEXT NOT NULL,
    trace TEXT NOT NULL,
    rule_version TEXT,
    list_version TEXT,
    job_id TEXT,
    row INTEGER,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_action ON audit(action);
CREATE INDEX IF NOT EXISTS audit_key ON audit(key_id);
CREATE UNIQUE INDEX IF NOT EXISTS audit_job_row ON audit(job_id, row) WHERE job_id IS NOT NULL;
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: records cannot be changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: records cannot be deleted'); END;

CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'officer', 'admin')),
    secret_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    rows_total INTEGER,
    rows_done INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT,
    filename TEXT NOT NULL,
    input_path TEXT NOT NULL,
    key_id TEXT NOT NULL,
    user TEXT NOT NULL,
    options TEXT NOT NULL,
    runner TEXT,
    heartbeat TEXT
);
CREATE TABLE IF NOT EXISTS job_rows (
    job_id TEXT NOT NULL,
    row INTEGER NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (job_id, row)
) WITHOUT ROWID;
"""


class StoreError(ChipwatchError):
    """The desk database cannot be opened, or holds something it should not."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def canonical(obj: Any) -> str:
    """One JSON text per value (sorted keys, no spaces), so a hash can be recomputed from the stored text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


class JsonText(str):
    """A value already serialised as JSON text (e.g. by pydantic's serializer): stored exactly as
    given, so the record's hash covers that text. Other values are stored as `canonical` text."""


def as_text(value: Any) -> str:
    return str(value) if isinstance(value, JsonText) else canonical(value)


def record_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the hashed fields in their fixed order, each as a type tag, its byte length and
    its bytes (unambiguous without escaping the stored JSON texts again): anyone can recompute it
    from the stored row."""
    h = hashlib.sha256()
    for k in HASHED_FIELDS:
        v = fields[k]
        if v is None:
            h.update(b"-;")
            continue
        tag = b"i" if isinstance(v, int) else b"s"
        data = str(v).encode("utf-8")
        h.update(tag + str(len(data)).encode() + b":" + data + b";")
    return h.hexdigest()


def secret_hash(secret: str) -> str:
    # API secrets carry 256 random bits, so a plain SHA-256 cannot be brute-forced and costs
    # microseconds per request (a slow password hash would cost milliseconds on every call).
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass
class NewRecord:
    """An audit record before it has an id and a place in the chain."""

    key_id: str
    user: str
    action: str
    inputs: Any
    answer: Any
    trace: Any = field(default_factory=list)
    rule_version: str | None = None
    list_version: str | None = None
    job_id: str | None = None
    row: int | None = None


def connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    con.execute("PRAGMA foreign_keys=ON")
    return con


@contextlib.contextmanager
def write_txn(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE takes the write lock at once, so the chain's last hash cannot change under us."""
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def append_records(con: sqlite3.Connection, records: Sequence[NewRecord]) -> list[int]:
    """Append `records` to the chain inside the caller's write transaction; returns their ids."""
    last = con.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev_id, prev_hash = (last["id"], last["hash"]) if last else (0, GENESIS)
    ids = []
    rows = []
    for r in records:
        prev_id += 1
        fields = {"id": prev_id, "at": now(), "key_id": r.key_id, "user": r.user, "action": r.action,
                  "inputs": as_text(r.inputs), "answer": as_text(r.answer), "trace": as_text(r.trace),
                  "rule_version": r.rule_version, "list_version": r.list_version, "job_id": r.job_id, "row": r.row,
                  "prev_hash": prev_hash}
        prev_hash = record_hash(fields)
        rows.append((*[fields[k] for k in HASHED_FIELDS], prev_hash))
        ids.append(prev_id)
    con.executemany(f"INSERT INTO audit ({', '.join(HASHED_FIELDS)}, hash) VALUES ({', '.join('?' * (len(HASHED_FIELDS) + 1))})",
                    rows)
    return ids


def writer_lock(path: Path) -> int:
    """The file lock the writers of all processes queue on (see `commit_group`)."""
    return os.open(path.with_name(path.name + ".writer"), os.O_RDWR | os.O_CREAT, 0o600)


def commit_group(con: sqlite3.Connection, lock: int, records: Sequence[NewRecord]) -> list[int]:
    """Append `records` in one transaction (one fsync) and return their ids. The writers of all
    server processes queue on `lock`: a blocked writer wakes the moment the lock is free, where
    SQLite's own busy handler would poll with sleeps of up to 100 ms."""
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
        with write_txn(con):
            return append_records(con, records)
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)


def writer_connection(path: Path) -> tuple[sqlite3.Connection, int]:
    """A committer's own connection (checkpoints left to the Checkpointer) and the writers' lock."""
    con = connect(path)
    con.execute("PRAGMA wal_autocheckpoint=0")  # see Checkpointer
    return con, writer_lock(path)


def commit_and_answer(con: sqlite3.Connection, lock: int, batch: Sequence[tuple[NewRecord, Any]],
                      checkpointer: Checkpointer) -> None:
    """Commit the records of `batch` (record, future) in one transaction, then give each future its
    audit id; if the commit fails, every future hears of it and none gets an id it does not have.
    A future already done (a waiter that went away) is left as it is: its record stays written."""
    try:
        ids = commit_group(con, lock, [r for r, _ in batch])
    except Exception as exc:
        for _, fut in batch:
            if not fut.done():
                fut.set_exception(StoreError(f"audit log write failed: {exc}"))
        return
    for (_, fut), audit_id in zip(batch, ids, strict=True):
        if not fut.done():
            fut.set_result(audit_id)
    checkpointer.committed()


class GroupCommitter:
    """One writer thread per process: commits every queued record in one transaction, then answers."""

    def __init__(self, path: Path, checkpointer: Checkpointer) -> None:
        self._path = path
        self._checkpointer = checkpointer
        self._queue: queue.Queue[tuple[NewRecord, Future[int]]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def submit(self, record: NewRecord) -> int:
        """Queue `record` and wait until it is committed; returns its audit id."""
        return self.start(record).result()

    def start(self, record: NewRecord) -> Future[int]:
        """Queue `record`; the future gives its audit id once it is committed (an async caller awaits it)."""
        self._ensure_thread()
        fut: Future[int] = Future()
        self._queue.put((record, fut))
        return fut

    def _ensure_thread(self) -> None:
        # A forked worker does not inherit running threads: start one in each process.
        with self._lock:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="audit-group-commit", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        con, lock = writer_connection(self._path)
        while True:
            batch = [self._queue.get()]
            while len(batch) < GROUP_MAX:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            commit_and_answer(con, lock, batch, self._checkpointer)


class LoopCommitter:
    """Group commit on an event loop's own thread, for the records of async requests.

    A record queued here is committed, with every other record queued before it, by one call made
    once the callbacks already due in this turn of the loop have run (the determinations of the
    requests that arrived together). Done by a writer thread instead, every commit would hand the
    GIL back and forth with the loop, which holds it for whole determinations: under load each
    hand-off waited for the interpreter's switch interval, and those waits were most of a request's
    time. Here the loop waits out the fsync itself (a fraction of a millisecond), and the request's
    answer leaves only after it, as before."""

    def __init__(self, path: Path, checkpointer: Checkpointer) -> None:
        self._checkpointer = checkpointer
        try:
            self._writer = writer_connection(path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"audit log cannot be opened for writing: {exc}") from None
        self._pending: list[tuple[NewRecord, asyncio.Future[int]]] = []

    def start(self, record: NewRecord) -> asyncio.Future[int]:
        """Queue `record` (on the running loop); the future gives its audit id once it is committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[int] = loop.create_future()
        self._pending.append((record, fut))
        if len(self._pending) == 1:
            loop.call_soon(self._commit)
        return fut

    def _commit(self) -> None:
        batch, self._pending = self._pending, []
        commit_and_answer(*self._writer, batch, self._checkpointer)


class Checkpointer:
    """Copies the log into the database file every CHECKPOINT_EVERY commits of this process, on its
    own thread, so no commit waits for a checkpoint (durability is the log's fsync at each commit)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._due = threading.Event()
        self._commits = 0
        self._pid = -1
        self._lock = threading.Lock()

    def committed(self) -> None:
        self._commits += 1
        if self._commits % CHECKPOINT_EVERY == 0:
            with self._lock:
                if self._pid != os.getpid():  # a forked worker does not inherit the thread
                    self._pid = os.getpid()
                    threading.Thread(target=self._run, name="audit-checkpoint", daemon=True).start()
            self._due.set()

    def _run(self) -> None:
        con = connect(self._path)
        while True:
            self._due.wait()
            self._due.clear()
            try:
                con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # busy or failed: the next one copies what this one did not
                continue


class Store:
    """The desk database at `home`/desk.sqlite3."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = home / DB_NAME
        self._local = threading.local()
        try:
            con = connect(self.path)
            con.executescript(SCHEMA)
            con.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the desk database {self.path}: {exc}") from None
        checkpointer = Checkpointer(self.path)
        self._committer = GroupCommitter(self.path, checkpointer)
        self._loop_committers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopCommitter] = weakref.WeakKeyDictionary()
        self._checkpointer = checkpointer

    @property
    def con(self) -> sqlite3.Connection:
        """One connection per thread (sqlite3 connections are not shared across threads here)."""
        con = getattr(self._local, "con", None)
        if con is None or getattr(self._local, "pid", None) != os.getpid():
            con = connect(self.path)
            self._local.con, self._local.pid = con, os.getpid()
        return con

    # --- audit -----------------------------------------------------------------------------------

    def record(self, rec: NewRecord) -> int:
        """Append one record (group-committed); returns its id once it is on disk."""
        return self._committer.submit(rec)

    def record_started(self, rec: NewRecord) -> Future[int]:
        """Queue one record for the group commit; the future gives its id once it is on disk.
        The caller must wait for it before answering."""
        return self._committer.start(rec)

    def record_on_loop(self, rec: NewRecord) -> asyncio.Future[int]:
        """As `record_started`, for a caller on a running event loop (see LoopCommitter)."""
        loop = asyncio.get_running_loop()
        committer = self._loop_committers.get(loop)
        if committer is None:
            committer = self._loop_committers[loop] = LoopCommitter(self.path, self._checkpointer)
        return committer.start(rec)

    def audit_rows(self, *, limit: int = AUDIT_PAGE, offset: int = 0, action: str | None = None, key_id: str | None = None,
                   audit_id: int | None = None) -> list[sqlite3.Row]:
        # SQLite integers are 64-bit: an id or offset past that range matches no record (not an error).
        if offset > SQLITE_MAX_INT or (audit_id is not None and not -SQLITE_MAX_INT <= audit_id <= SQLITE_MAX_INT):
            return []
        limit = min(limit, SQLITE_MAX_INT)
        where, params = [], []
        for col, val in (("action", action), ("key_id", key_id), ("id", audit_id)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        sql = "SELECT * FROM audit" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC LIMIT ? OFFSET ?"
        return self.con.execute(sql, [*params, limit, offset]).fetchall()

    def audit_iter(self) -> Iterator[sqlite3.Row]:
        yield from connect(self.path).execute("SELECT * FROM audit ORDER BY id")

    def verify(self) -> tuple[int, list[str]]:
        """Recompute the chain: (records checked, problems found)."""
        problems: list[str] = []
        prev_hash, prev_id, n = GENESIS, 0, 0
        for row in self.audit_iter():
            n += 1
            fields = {k: row[k] for k in HASHED_FIELDS}
            if row["id"] != prev_id + 1:
                problems.append(f"record {row['id']}: follows record {prev_id} (records missing between them)")
            if row["prev_hash"] != prev_hash:
                problems.append(f"record {row['id']}: prev_hash does not match the hash of record {prev_id}")
            if record_hash(fields) != row["hash"]:
                problems.append(f"record {row['id']}: contents do not match its hash (changed after it was written)")
            prev_hash, prev_id = row["hash"], row["id"]
        return n, problems

    # --- keys ------------------------------------------------------------------------------------

    def create_key(self, name: str, role: str) -> tuple[str, str]:
        """Store a new key; returns (key_id, secret). Only the secret's hash is kept."""
        key_id = secrets.token_hex(4)
        secret = f"cw_{key_id}_{secrets.token_urlsafe(32)}"
        with write_txn(self.con) as con:
            con.execute("INSERT INTO api_keys (key_id, name, role, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?)",
                        (key_id, name, role, secret_hash(secret), now()))
        return key_id, secret

    def key_by_secret(self, secret: str) -> sqlite3.Row | None:
        return self.con.execute("SELECT * FROM api_keys WHERE secret_sha256 = ? AND revoked_at IS NULL",
                                (secret_hash(secret),)).fetchone()

    def key_rows(self) -> list[sqlite3.Row]:
        return self.con.execute("SELECT key_id, name, role, created_at, revoked_at FROM api_keys ORDER BY created_at").fetchall()

    def revoke_key(self, key_id: str) -> bool:
        with write_txn(self.con) as con:
            cur = con.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL", (now(), key_id))
        return cur.rowcount == 1

    def active_admins(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL").fetchone()[0])

    # --- jobs ------------------------------------------------------------------------------------

    def create_job(self, job: dict[str, Any]) -> None:
        cols = list(job)
        with write_txn(self.con) as con:
            con.execute(f"INSERT INTO jobs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", [job[c] for c in cols])

    def job_row(self, job_id: str) -> sqlite3.Row | None:
        return self.con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()

    def job_list(self, limit: int = 20) -> list[sqlite3.Row]:
        return self.con.execute("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?", (limit,)).fetchall()

    def update_job(self, job_id: str, **cols: Any) -> None:
        sets = ", ".join(f"{c} = ?" for c in cols)
        with write_txn(self.con) as con:
            con.execute(f"UPDATE jobs SET {sets} WHERE id = ?", [*cols.values(), job_id])

    def claim_job(self, runner: str, is_dead: Any) -> sqlite3.Row | None:
        """Take the oldest job to run: a queued one, or one whose runner died (marked interrupted first,
        so its state says exactly which rows were done). `is_dead(runner)` tells whether a runner is gone."""
        with write_txn(self.con) as con:
            for row in con.execute("SELECT * FROM jobs WHERE status IN ('queued', 'running', 'interrupted') "
                                   "ORDER BY created_at").fetchall():
                if row["status"] == "running" and not is_dead(row["runner"]):
                    continue
                con.execute("UPDATE jobs SET status = 'running', runner = ?, heartbeat = ?, started_at = coalesce(started_at, ?) "
                            "WHERE id = ?", (runner, now(), now(), row["id"]))
                return con.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        return None

    def mark_dead_runs_interrupted(self, is_dead: Any) -> list[str]:
        """Jobs left 'running' by a process that is gone become 'interrupted' (at server start)."""
        done = []
        with write_txn(self.con) as con:
            for row in con.execute("SELECT id, runner FROM jobs WHERE status = 'running'").fetchall():
                if is_dead(row["runner"]):
                    con.execute("UPDATE jobs SET status = 'interrupted' WHERE id = ?", (row["id"],))
                    done.append(row["id"])
        return done

    def commit_chunk(self, job_id: str, runner: str, results: Sequence[tuple[int, Any]], records: Sequence[NewRecord],
                     rows_done: int) -> None:
        """One chunk of a job in one transaction: its result rows, their audit records and the progress.

        The job must still belong to `runner` (a runner that lost its claim writes nothing)."""
        with write_txn(self.con) as con:
            owner = con.execute("SELECT runner, rows_done FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if owner is None or owner["runner"] != runner:
                raise StoreError(f"job {job_id} is no longer run by this process")
            con.executemany("INSERT INTO job_rows (job_id, row, result) VALUES (?, ?, ?)",
                            [(job_id, r, canonical(res)) for r, res in results])
            append_records(con, records)
            con.execute("UPDATE jobs SET rows_done = ?, heartbeat = ? WHERE id = ?", (rows_done, now(), job_id))

    def job_results(self, job_id: str) -> list[tuple[int, str]]:
        return [(r["row"], r["result"]) for r in
                self.con.execute("SELECT row, result FROM job_rows WHERE job_id = ? ORDER BY row", (job_id,))]

    def job_audit_count(self, job_id: str) -> int:
        return int(self.con.execute("SELECT count(*) FROM audit WHERE job_id = ?", (job_id,)).fetchone()[0])
