"""The desk database: append-only audit log, hash chain that shows tampering, group commit, hashed keys, job chunks."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from chipwatch.store import NewRecord, Store, StoreError, connect


def _rec(i: int, **kw: object) -> NewRecord:
    return NewRecord(key_id="k1", user="tester", action="determine", inputs={"i": i}, answer={"ok": i % 2 == 0},
                     trace=[{"check": "x", "result": str(i)}], rule_version="r1", list_version="EL v1", **kw)  # type: ignore[arg-type]


def test_records_chain_and_verify(tmp_path: Path) -> None:
    store = Store(tmp_path)
    ids = [store.record(_rec(i)) for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    assert store.verify() == (5, [])
    rows = store.audit_rows(limit=10)
    assert [r["id"] for r in rows] == [5, 4, 3, 2, 1]
    assert rows[-1]["prev_hash"] == "0" * 64 and rows[-2]["prev_hash"] == rows[-1]["hash"]


def test_audit_log_is_append_only(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.record(_rec(1))
    con = connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("UPDATE audit SET answer = '{}' WHERE id = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        con.execute("DELETE FROM audit WHERE id = 1")
    assert store.verify() == (1, [])


def test_tampering_shows_in_verify(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for i in range(4):
        store.record(_rec(i))
    con = connect(store.path)  # someone with the file and another tool: drops the guard and edits
    con.execute("DROP TRIGGER audit_no_update")
    con.execute("DROP TRIGGER audit_no_delete")
    con.execute("""UPDATE audit SET answer = '{"ok":"tampered"}' WHERE id = 2""")
    n, problems = store.verify()
    assert n == 4 and problems == ["record 2: contents do not match its hash (changed after it was written)"]
    con.execute("DELETE FROM audit WHERE id = 3")
    _, problems = store.verify()
    assert any("record 4: follows record 2" in p for p in problems)


def test_concurrent_writers_keep_one_chain(tmp_path: Path) -> None:
    # two Store objects stand for two server workers: separate connections and group committers
    stores = [Store(tmp_path), Store(tmp_path)]
    got: list[int] = []
    lock = threading.Lock()

    def write(s: Store, base: int) -> None:
        for i in range(40):
            audit_id = s.record(_rec(base + i))
            with lock:
                got.append(audit_id)

    threads = [threading.Thread(target=write, args=(stores[t % 2], t * 100)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(1, 321))
    assert stores[0].verify() == (320, [])


def test_keys_are_hashed(tmp_path: Path) -> None:
    store = Store(tmp_path)
    key_id, secret = store.create_key("ops", "officer")
    assert store.key_by_secret(secret)["key_id"] == key_id
    assert store.key_by_secret(secret + "x") is None
    blob = b"".join(p.read_bytes() for p in tmp_path.glob("desk.sqlite3*"))
    assert secret.encode() not in blob
    assert store.revoke_key(key_id) and store.key_by_secret(secret) is None
    with pytest.raises(sqlite3.IntegrityError):
        store.con.execute(  # the role is checked by the database too
            "INSERT INTO api_keys VALUES ('x', 'n', 'root', 'h', 't', NULL)")


def test_chunk_commit_is_atomic_and_owned(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.create_job({"id": "j1", "kind": "determine", "status": "queued", "rows_total": 4, "rows_done": 0,
                      "created_at": "2026-01-01T00:00:00+00:00", "filename": "f.csv", "input_path": "/nowhere",
                      "key_id": "k1", "user": "tester", "options": "{}"})
    job = store.claim_job("runner-a", lambda r: True)
    assert job is not None and job["status"] == "running"
    store.commit_chunk("j1", "runner-a", [(1, {"row": 1}), (2, {"row": 2})], [_rec(1, job_id="j1", row=1),
                                                                            _rec(2, job_id="j1", row=2)], 2)
    with pytest.raises(StoreError, match="no longer run by this process"):
        store.commit_chunk("j1", "runner-b", [(3, {"row": 3})], [_rec(3, job_id="j1", row=3)], 3)
    # a duplicate row fails the whole chunk: neither result rows nor audit records nor progress change
    with pytest.raises(sqlite3.IntegrityError):
        store.commit_chunk("j1", "runner-a", [(3, {"row": 3}), (2, {"row": 2})], [_rec(3, job_id="j1", row=3)], 4)
    assert store.job_row("j1")["rows_done"] == 2
    assert [r for r, _ in store.job_results("j1")] == [1, 2] and store.job_audit_count("j1") == 2
    assert store.verify() == (2, [])
    # a runner that is alive keeps its job; a dead one's job is marked interrupted and can be claimed again
    assert store.claim_job("runner-b", lambda r: False) is None
    assert store.mark_dead_runs_interrupted(lambda r: True) == ["j1"]
    assert store.claim_job("runner-b", lambda r: False)["runner"] == "runner-b"


def test_ids_and_offsets_beyond_sqlite_integers_find_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.record(_rec(1))
    huge = 2**70
    assert store.audit_rows(offset=huge) == []
    assert store.audit_rows(audit_id=huge) == []
    assert store.audit_rows(audit_id=-huge) == []
    assert len(store.audit_rows(limit=huge)) == 1


def test_records_of_one_loop_turn_are_committed_together_on_the_loop(tmp_path: Path) -> None:
    """Requests served on the event loop commit there (store.LoopCommitter): every record queued
    in one turn of the loop goes in one transaction, before any waiter hears its id; a record
    that cannot be written fails its whole group, a cancelled waiter does not stop the others,
    and the loop's records interleave with a writer thread's in one chain."""
    import asyncio

    store = Store(tmp_path)
    other = Store(tmp_path)  # another worker, committing through its writer thread

    async def main() -> None:
        futures = [store.record_on_loop(_rec(i)) for i in range(50)]
        futures[7].cancel()  # the client of request 7 went away
        done = await asyncio.gather(*futures, return_exceptions=True)
        ids = [d for d in done if isinstance(d, int)]
        assert len(ids) == 49 and ids == sorted(ids) and ids[-1] - ids[0] == 49  # one group: 50 consecutive ids
        assert store.audit_rows(limit=100)[0]["id"] == 50  # the cancelled one's record was written too
        assert store._checkpointer._commits == 1
        bad = store.record_on_loop(_rec(99, job_id=object()))  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="audit log write failed"):
            await bad
        thread_id = await asyncio.to_thread(other.record, _rec(100))
        assert await store.record_on_loop(_rec(101)) == thread_id + 1  # the failed group left no trace

    asyncio.run(main())
    assert store.verify() == (52, [])
