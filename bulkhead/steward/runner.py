"""`run`: the steward as a long-running process (or a single pass with `once`).

It connects (waiting up to `connect_timeout` for the node), checks the node is the
manifest's chain, picks its account and checks that it is the factory's steward (not in
a dry run), then passes over every pool each `interval` seconds. A node that goes away is
waited for with the keeper's back-off (`keeper.runner.Backoff`); with `once` it gives up
after `connect_timeout`. Ctrl-C or SIGTERM ends it after the current pass; it returns the
summary.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from bulkhead.chain import NodeError
from bulkhead.client import Client
from bulkhead.deploy import Deployment
from bulkhead.keeper.metrics import LOG_FORMATS, EventLog
from bulkhead.keeper.runner import (
    DEFAULT_MANIFEST,
    Backoff,
    _check_chain,
    _sigterm_sets,
    _wait_for_node,
    is_node_error,
    web3_for,
)
from bulkhead.steward.core import Steward, StewardConfig, check_steward, steward_sender

DEFAULT_INTERVAL = 60.0  # [seconds] between passes; the factory's least cooldown is 60 s


def start(
    w3: Any,
    deployment: Deployment,
    config: StewardConfig,
    log: EventLog,
    account: int | None = None,
    keystore: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> Steward:
    """A Steward on `w3`, its account picked and checked (a dry run needs no steward)."""
    _check_chain(w3, deployment, "the node")
    client = Client(w3, deployment)
    sender = steward_sender(
        client, account, str(keystore) if keystore else None, env=env, prompt=prompt
    )
    if not config.dry_run:
        check_steward(client, sender)
    log(
        "start",
        steward=sender.address,
        dry_run=config.dry_run,
        window_s=config.window,
        pools=[p.name for p in deployment.pools],
    )
    return Steward(client, sender, config, log)


def run(
    rpc_url: str,
    manifest: str | Path | Deployment = DEFAULT_MANIFEST,
    account: int | None = None,
    keystore: str | Path | None = None,
    config: StewardConfig | None = None,
    once: bool = False,
    interval: float = DEFAULT_INTERVAL,
    log_stream: IO[str] | None = None,
    log_format: str = "json",
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
    connect_timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Run the steward and return its summary. Raises ConfigError (manifest), NodeError
    (no node within `connect_timeout`), AccountError or UserError (the account), each with
    a one-line message."""
    deployment = manifest if isinstance(manifest, Deployment) else Deployment.load(manifest)
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r} is not one of {', '.join(LOG_FORMATS)}")
    log = EventLog(log_stream, fmt=log_format)
    config = config or StewardConfig()
    own_stop = stop is None
    stop = stop or threading.Event()
    with _sigterm_sets(stop, log, own_stop):
        w3 = web3_for(rpc_url)
        _wait_for_node(w3, rpc_url, connect_timeout, log)
        steward = start(w3, deployment, config, log, account, keystore, env, prompt)
        loop(steward, interval, once, stop, max_cycles, connect_timeout if once else None)
    summary = steward.summary()
    log("summary", **summary)
    return summary


def loop(
    steward: Steward,
    interval: float = DEFAULT_INTERVAL,
    once: bool = False,
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
    give_up_after: float | None = None,
) -> None:
    """Step `steward` every `interval` seconds until `stop` (or once, or `max_cycles`),
    riding out a node that goes away."""
    stop = stop or threading.Event()
    backoff = Backoff()
    down_since: float | None = None
    errors = 0
    try:
        while not stop.is_set():
            try:
                steward.step()
            except Exception as exc:
                delay = backoff.fail()
                if not is_node_error(exc):
                    errors += 1
                    steward.log("step_failed", error=f"{type(exc).__name__}: {exc}"[:300])
                    if once and errors >= 3:
                        raise
                    stop.wait(delay)
                    continue
                now = time.monotonic()
                down_since = down_since or now
                if give_up_after is not None and now - down_since > give_up_after:
                    raise NodeError(f"node unreachable for {now - down_since:.0f} s") from None
                steward.log("node_unreachable", retry_in_s=delay, attempt=backoff.failures)
                stop.wait(delay)
                continue
            if down_since is not None:
                steward.log("reconnected", down_s=round(time.monotonic() - down_since, 3))
                down_since = None
            backoff.reset()
            errors = 0
            if once or (max_cycles is not None and steward.cycles >= max_cycles):
                break
            stop.wait(interval)
    except KeyboardInterrupt:
        steward.log("interrupted")


def steward_from_env(
    w3: Any, env: Mapping[str, str] | None = None, log_stream: IO[str] | None = None
) -> Steward:
    """A Steward configured from the environment (for `bots/steward.py` under Silverback):
    BULKHEAD_MANIFEST (default deployment.json); the account as `bulkhead steward run`
    picks it (BULKHEAD_KEYSTORE + BULKHEAD_KEYSTORE_PASSWORD, BULKHEAD_ACCOUNT,
    BULKHEAD_PRIVATE_KEY, else the steward's dev account); BULKHEAD_DRY_RUN=1;
    BULKHEAD_STEWARD_WINDOW [seconds]; BULKHEAD_LOG_FORMAT=text for a log for people."""
    from bulkhead.deploy import ConfigError

    env = os.environ if env is None else env
    deployment = Deployment.load(env.get("BULKHEAD_MANIFEST", DEFAULT_MANIFEST))
    log_format = env.get("BULKHEAD_LOG_FORMAT") or "json"
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"BULKHEAD_LOG_FORMAT {log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    window = env.get("BULKHEAD_STEWARD_WINDOW")
    try:
        seconds = int(window) if window else StewardConfig().window
    except ValueError:
        raise ConfigError(f"BULKHEAD_STEWARD_WINDOW is not whole seconds: {window!r}") from None
    if seconds < 60:
        raise ConfigError("BULKHEAD_STEWARD_WINDOW is under 60 seconds")
    config = StewardConfig(
        window=seconds, dry_run=env.get("BULKHEAD_DRY_RUN", "") not in ("", "0", "false")
    )
    account = env.get("BULKHEAD_ACCOUNT")
    try:
        index = int(account) if account else None
    except ValueError:
        raise ConfigError(f"BULKHEAD_ACCOUNT is not a dev account index: {account!r}") from None
    log = EventLog(log_stream, fmt=log_format)
    return start(w3, deployment, config, log, index, env.get("BULKHEAD_KEYSTORE") or None, env)
