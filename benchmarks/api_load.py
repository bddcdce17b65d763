"""Load on loopback: single determinations over HTTP at a fixed rate, against the library's own call time.

    .venv/bin/python benchmarks/api_load.py [--rate 500] [--duration 20] [--warmup 20] [--workers 2] [--connections 25]

Starts `chipwatch serve` in a temporary home and drives POST /v1/determine with wrk (a Lua script
sends on a fixed schedule of --rate requests a second, whatever the latency). Two phases at that
rate: a warm-up of --warmup seconds on one set of transactions, then the measured run of
--duration seconds on another set that shares no transaction with it (chips, destinations,
quantities and dates all vary), so the measured run sees a server that has been working, as a
deployed one has, but answers nothing it was asked before. Both phases are printed. Every request
writes its audit record (fsync'd) before its answer. The baseline, measured in the same run, is
the in-process `determine()` on the measured transactions after the same warm-up. Bounded:
127.0.0.1 only, --warmup + --duration seconds of load.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

DESTINATIONS = ("CN", "DE", "AE", "IN", "SG", "MO", "US", "BR", "SA", "VN", "MY", "JP", "KR", "RU", "GB", "FR", "MX", "IL")
FIRST_DAY, DAYS = date(2023, 1, 1), 1400  # transactions dated across the rule changes of 2023-2026
TARGET_P99_MS = 50.0
WRK_THREADS = 2


def transactions(n: int, seed: int = 7) -> list[dict]:
    from chipwatch.catalog import default_catalog

    chips = [c.name for c in default_catalog()]
    rng = random.Random(seed)
    return [{"transaction": {"item": rng.choice(chips), "destination": rng.choice(DESTINATIONS),
                             "quantity": rng.randint(1, 5000),
                             "date": (FIRST_DAY + timedelta(days=rng.randint(0, DAYS))).isoformat()}} for _ in range(n)]


def baseline_ms(warm: list[dict], bodies: list[dict], n: int = 300) -> float:
    """Mean in-process determine() time (ms) on `bodies`, after the same warm-up as the server's."""
    from chipwatch.determine import Transaction, determine
    from chipwatch.law import load_law

    law = load_law()
    for b in warm:
        determine(Transaction.model_validate(b["transaction"]), law=law)
    txns = [Transaction.model_validate(b["transaction"]) for b in bodies[:n]]
    t0 = time.perf_counter()
    for t in txns:
        determine(t, law=law)
    return (time.perf_counter() - t0) / n * 1000


def wrk_run(script: Path, port: int, seconds: int, connections: int) -> dict[str, int]:
    run = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
                          "-s", str(script), f"http://127.0.0.1:{port}"], capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"RESULT (.*)", run.stdout)
    if not m:
        raise SystemExit(f"wrk gave no result:\n{run.stdout}\n{run.stderr}")
    return {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (Linux /proc)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid` so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def describe(r: dict[str, int]) -> str:
    achieved = r["requests"] / (r["duration_us"] / 1e6)
    return (f"achieved {achieved:.0f} req/s; p50 {r['p50_us'] / 1000:.1f} ms, p90 {r['p90_us'] / 1000:.1f} ms, "
            f"p99 {r['p99_us'] / 1000:.1f} ms, max {r['max_us'] / 1000:.1f} ms; non-2xx {r['status_errors']}, "
            f"timeouts {r['timeouts']}")


def lua_script(bodies: list[dict], key: str, rate: float, threads: int) -> str:
    """wrk script: each wrk thread sends on a fixed schedule of rate/threads requests a second. A
    connection that has its answer claims the thread's next free send time and waits for it (a fixed
    pause after each answer would make the rate fall as latency grows). A send time already past
    is used at once and the schedule restarts from now, so an overloaded server shows up as a lower
    achieved rate, not as a burst of catch-up requests."""
    quoted = ",\n".join("[==[" + json.dumps(b) + "]==]" for b in bodies)
    gap_ms = threads * 1000.0 / rate
    return f"""
local ffi = require("ffi")
ffi.cdef[[ typedef struct {{ long tv_sec; long tv_nsec; }} cw_timespec; int clock_gettime(int, cw_timespec *); ]]
local ts = ffi.new("cw_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)  -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end
local bodies = {{
{quoted}
}}
local n = #bodies
local i = 0
local next_send = nil
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{key}"
function setup(thread) thread:set("offset", math.random(n)) end
function init(args) i = offset or 0 end
request = function()
  i = (i % n) + 1
  return wrk.format(nil, "/v1/determine", nil, bodies[i])
end
delay = function()
  local t = now_ms()
  if next_send == nil or next_send + {gap_ms:.4f} < t then
    next_send = t
  else
    next_send = next_send + {gap_ms:.4f}
  end
  return math.floor(next_send - t)
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d status_errors=%d timeouts=%d\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    summary.errors.status, summary.errors.timeout))
end
"""


def start_server(home: Path, port: int, workers: int) -> tuple[subprocess.Popen[bytes], str]:
    out = home / "serve.out"
    proc = subprocess.Popen([sys.executable, "-m", "chipwatch", "serve", "--home", str(home), "--port", str(port),
                             "--workers", str(workers)], stdout=out.open("wb"), stderr=(home / "serve.err").open("wb"),
                            env={**os.environ, "CHIPWATCH_HOME": str(home)})
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise SystemExit(f"server did not start: {(home / 'serve.err').read_text()[-2000:]}")
    return proc, out.read_text().strip().splitlines()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=float, default=500)
    ap.add_argument("--duration", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--connections", type=int, default=25)
    ap.add_argument("--transactions", type=int, default=3000)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    bodies = transactions(args.transactions)
    seen = {json.dumps(b, sort_keys=True) for b in bodies}
    warm = [b for b in transactions(args.transactions, seed=8) if json.dumps(b, sort_keys=True) not in seen]
    base = baseline_ms(warm, bodies)
    home = Path(tempfile.mkdtemp(prefix="chipwatch-load-"))
    port = 18000 + os.getpid() % 1000
    proc, key = start_server(home, port, args.workers)
    try:
        (home / "warm.lua").write_text(lua_script(warm, key, args.rate, WRK_THREADS))
        (home / "measure.lua").write_text(lua_script(bodies, key, args.rate, WRK_THREADS))
        first = wrk_run(home / "warm.lua", port, args.warmup, args.connections)
        cpu_before = {pid: cpu_seconds(pid) for pid in children(proc.pid)}
        r = wrk_run(home / "measure.lua", port, args.duration, args.connections)
        cpu_used = {pid: cpu_seconds(pid) - t for pid, t in cpu_before.items()}
    finally:
        proc.terminate()
        proc.wait(20)
    achieved = r["requests"] / (r["duration_us"] / 1e6)
    p50, p99 = r["p50_us"] / 1000, r["p99_us"] / 1000
    print(f"baseline: in-process determine() {base:.2f} ms per call (300 of the measured transactions, after the warm-up set)")
    print(f"load: {args.rate:.0f} req/s, {args.workers} workers, {args.connections} connections; "
          f"warm-up {args.warmup} s on {len(warm)} transactions, then {args.duration} s on {len(bodies)} others")
    print(f"warm-up (from server start): {describe(first)}")
    print(f"measured:                    {describe(r)}")
    print(f"ratio: HTTP p50 / in-process determine() = {p50 / base:.2f}")
    served = {pid: t for pid, t in cpu_used.items() if t > 0.05}  # the workers (not the resource tracker)
    total = sum(served.values())
    if total:
        shares = ", ".join(f"{100 * t / total:.0f} %" for t in sorted(served.values(), reverse=True))
        print(f"server CPU: {1000 * total / r['requests']:.2f} ms per request; share of each worker: {shares}")
    ok = p99 < TARGET_P99_MS and achieved >= 0.95 * args.rate and r["status_errors"] == 0
    print(f"target p99 < {TARGET_P99_MS:.0f} ms at {args.rate:.0f} req/s: {'met' if ok else 'NOT met'}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
