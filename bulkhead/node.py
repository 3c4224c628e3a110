"""Start and stop a local Anvil from the npm package pinned in the repo.

`Anvil` picks a free port unless told one, waits until the node answers, and kills the
whole process group on `stop()` (also on interpreter exit).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulkhead.artifacts import ROOT
from bulkhead.errors import BulkheadError

NPM_BIN = ROOT / "node_modules" / ".bin"
# [s] how long a node may take to answer: a ceiling against a hang, not an expectation (Anvil
# answers in well under a second on a quiet machine, several on a loaded one)
START_TIMEOUT = 120.0
PORT_ATTEMPTS = 3  # fresh ports tried when another process takes the free port we picked
PRUNED_RETRIES = 20  # attempts of a read that keeps meeting the pruned-history race


class NodeStartError(BulkheadError, RuntimeError):
    """The node could not be started; the message is one line."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def anvil_binary() -> str:
    path = NPM_BIN / "anvil"
    if path.exists():
        return str(path)
    found = shutil.which("anvil")
    if found:
        return found
    raise NodeStartError("anvil not found: run `npm ci` in the repo (or `make install`)")


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise NodeStartError(f"node exited with code {proc.returncode} before it answered")
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise NodeStartError(f"node did not answer on port {port} within {timeout:.0f} s")


class Anvil:
    """A local Anvil process."""

    def __init__(
        self,
        port: int | None = None,
        block_time: float | None = None,
        state: str | Path | None = None,
        accounts: int = 10,
        balance: int = 1_000_000,
        extra_args: list[str] | None = None,
        quiet: bool = True,
    ):
        self.port = port or free_port()
        self._port_picked = port is None  # ours to change if someone takes it meanwhile
        self.args = [
            anvil_binary(),
            "--port",
            str(self.port),
            "--host",
            "127.0.0.1",
            "--prune-history",
            "--accounts",
            str(accounts),
            "--balance",
            str(balance),
            "--chain-id",
            "31337",
        ]
        if block_time:
            self.args += ["--block-time", str(block_time)]
        if state:
            self.args += ["--state", str(state)]
        self.args += extra_args or []
        self.quiet = quiet
        self.proc: subprocess.Popen | None = None

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = START_TIMEOUT) -> Anvil:
        out = subprocess.DEVNULL if self.quiet else None
        atexit.register(self.stop)
        attempt = 1
        while True:
            proc = subprocess.Popen(self.args, stdout=out, stderr=out, start_new_session=True)
            self.proc = proc
            try:
                _wait_for_port(self.port, proc, timeout)
                return self
            except NodeStartError:
                # the port we picked was free when picked; on a busy machine another process
                # may bind it before Anvil does, and Anvil exits: pick another, start again
                if not (self._port_picked and proc.poll() is not None and attempt < PORT_ATTEMPTS):
                    self.stop()
                    raise
            attempt += 1
            self.port = free_port()
            self.args[self.args.index("--port") + 1] = str(self.port)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # SIGTERM lets anvil write --state
            proc.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def is_pruned_race(message: str) -> bool:
    """Races of Anvil 1.7 (`--prune-history`, which `Anvil` passes) while blocks are being mined;
    asking again works.

    - a `latest` query answered with BlockOutOfRangeError (a block was mined between
      resolving `latest` and running the call);
    - an eth_call that reverts with no data: it ran against a newer state than its block's
      timestamp, and a pool view underflowed on `block.timestamp - last` (seen about once
      in 17,000 calls of `rate()` under interval mining with transactions; a real revert of
      the views used here carries a reason string).
    """
    return "BlockOutOfRange" in message or message.rstrip() == "execution reverted"


def retry_pruned(fn: Callable[[], Any]) -> Any:
    """Call `fn`, again while it fails with the pruned-history race (see `is_pruned_race`)."""
    for _attempt in range(PRUNED_RETRIES - 1):
        try:
            return fn()
        except Exception as exc:  # web3 wraps the node's error in several exception types
            if not is_pruned_race(str(exc)):
                raise
    return fn()
