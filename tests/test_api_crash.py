"""kill -9 during a batch: nothing committed is lost, the job state is exact, and it resumes to completion."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from desk_server import start

ROWS = 3000
DESTINATIONS = ("CN", "DE", "AE", "IN", "SG", "MO", "US", "BR")
CHIPS = ("H100 SXM", "H20", "B200", "A100 SXM 80GB", "L40S", "MI300X")


def _order_book() -> bytes:
    lines = ["item,quantity,destination,date"]
    for i in range(ROWS):
        lines.append(f"{CHIPS[i % len(CHIPS)]},{i % 11 + 1},{DESTINATIONS[i % len(DESTINATIONS)]},"
                     f"{2023 + i % 3}-{i % 12 + 1:02d}-{i % 27 + 1:02d}")
    return "\n".join(lines).encode()


def _state(home: Path, job_id: str) -> dict[str, int | str]:
    con = sqlite3.connect(home / "desk.sqlite3")
    try:
        status, rows_done = con.execute("SELECT status, rows_done FROM jobs WHERE id = ?", (job_id,)).fetchone()
        results, distinct, low, high = con.execute(
            "SELECT count(*), count(DISTINCT row), min(row), max(row) FROM job_rows WHERE job_id = ?", (job_id,)).fetchone()
        audited, audited_rows = con.execute("SELECT count(*), count(DISTINCT row) FROM audit WHERE job_id = ?", (job_id,)).fetchone()
    finally:
        con.close()
    return {"status": status, "rows_done": rows_done, "results": results, "distinct": distinct, "low": low or 0,
            "high": high or 0, "audited": audited, "audited_rows": audited_rows}


def _verify(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chipwatch", "audit", "verify", "--home", str(home)],
                          capture_output=True, text=True, timeout=120)


def test_kill9_mid_batch_loses_nothing_and_resumes(tmp_path: Path) -> None:
    home = tmp_path / "desk"
    env = {"CHIPWATCH_JOB_CHUNK": "50"}  # many small commits, so the kill lands mid-batch
    srv = start(home, env=env)
    try:
        with srv.client(srv.admin_key) as c:
            singles = [c.post("/v1/determine", json={"transaction": {"item": "H100 SXM", "destination": d, "date": "2024-06-01"}})
                       .json()["audit_id"] for d in ("CN", "DE")]
            job = c.post("/v1/determine/batch", files={"file": ("book.csv", _order_book())}).json()
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and c.get(f"/v1/jobs/{job['id']}").json()["rows_done"] < 200:
                time.sleep(0.01)
    finally:
        srv.kill9()

    before = _state(home, job["id"])
    assert 0 < int(before["rows_done"]) < ROWS, f"the kill did not land mid-batch: {before}"
    # exact: the rows recorded as done are the result rows and the audit rows, 1..n, each once
    assert before["rows_done"] == before["results"] == before["distinct"] == before["audited"] == before["audited_rows"]
    assert (before["low"], before["high"]) == (1, before["rows_done"])
    verified = _verify(home)
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout + verified.stderr

    srv = start(home, srv.admin_key, env=env)
    try:
        with srv.client(srv.admin_key) as c:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and c.get(f"/v1/jobs/{job['id']}").json()["status"] != "done":
                time.sleep(0.1)
            final = c.get(f"/v1/jobs/{job['id']}").json()
            for audit_id in singles:  # answers given before the crash are still on record
                assert c.get(f"/v1/audit/{audit_id}").json()["action"] == "determine"
            result = c.get(f"/v1/jobs/{job['id']}/result").json()
    finally:
        srv.stop()
    assert final["status"] == "done" and final["rows_done"] == ROWS
    after = _state(home, job["id"])
    assert after["results"] == after["distinct"] == after["audited"] == after["audited_rows"] == ROWS
    assert [r["row"] for r in result] == list(range(1, ROWS + 1))
    verified = _verify(home)
    assert verified.returncode == 0, verified.stdout + verified.stderr
