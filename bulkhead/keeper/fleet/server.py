"""A local Redis server for a fleet: Debian's `redis-server` on a free port of 127.0.0.1.

`RedisServer` keeps its data in its own folder with the append-only file on and fsynced on
every write, so a restart (`restart()`, or a crash) keeps the leases, and waits until the
server answers PING. `stop()` ends it (SIGTERM, then SIGKILL); also on interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from bulkhead.client import UserError
from bulkhead.node import free_port

INSTALL_HINT = "apt-get install -y redis-server"
# [s] how long the server may take to answer: a ceiling against a hang, not an expectation
START_TIMEOUT = 60.0


class FleetError(UserError):
    """The fleet cannot start or run; the message is one line."""


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise FleetError(f"redis-server not found: install it with `{INSTALL_HINT}`")
    return found


class RedisServer:
    """One redis-server process; `url` is `redis://127.0.0.1:<port>/0`."""

    def __init__(self, port: int | None = None, directory: str | Path | None = None):
        self.port = port or free_port()
        self._own_dir = directory is None
        self.dir = Path(directory or tempfile.mkdtemp(prefix="bulkhead-redis-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def args(self) -> list[str]:
        return [
            redis_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--appendfsync", "always",  # a lease written is a lease kept
            "--save", "",
            "--loglevel", "warning",
            "--logfile", str(self.dir / "redis.log"),
        ]  # fmt: skip

    def start(self, timeout: float = START_TIMEOUT) -> RedisServer:
        atexit.register(self.stop)
        self.proc = subprocess.Popen(
            self.args(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.poll() is not None:
                log = self.dir / "redis.log"
                tail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
                raise FleetError(
                    f"redis-server exited with code {self.proc.returncode} on port "
                    f"{self.port}: {' '.join(tail) or 'no log'}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise FleetError(f"redis-server did not answer on port {self.port}")
            time.sleep(0.05)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop()
        self.start()

    def remove(self) -> None:
        """Stop, and delete the data folder if this object made it."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()
