"""A real chipwatch server on loopback for the API tests: `chipwatch serve` as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    base: str
    home: Path
    admin_key: str

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.base, headers=headers, timeout=60)

    def kill9(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start(home: Path, admin_key: str | None = None, *, env: dict[str, str] | None = None, workers: int = 1) -> Server:
    """Start `chipwatch serve` on a free loopback port; on a first start, read the admin key it prints."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    out = home / f"serve-{port}.out"
    err = home / f"serve-{port}.err"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chipwatch", "serve", "--home", str(home), "--port", str(port), "--workers", str(workers)],
        stdout=out.open("wb"), stderr=err.open("wb"), env={**os.environ, "CHIPWATCH_HOME": str(home), **(env or {})},
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {err.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    else:
        proc.kill()
        raise RuntimeError(f"server did not start in {START_TIMEOUT:.0f} s: {err.read_text()[-2000:]}")
    key = admin_key or out.read_text().strip().splitlines()[0]
    return Server(proc=proc, base=base, home=home, admin_key=key)
