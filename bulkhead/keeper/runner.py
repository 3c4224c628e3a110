"""`run`: the keeper as a long-running process (or a single pass with `once`).

It connects, picks the account, steps once per `poll_interval` and survives a node that
goes away: every failed request is followed by a wait that doubles from 0.25 s up to
`max_backoff`, and when the node answers again the next step catches up from the event
logs and the views (so positions that became liquidatable meanwhile are found). On exit,
normal, Ctrl-C or SIGTERM, it logs and returns the metrics summary; the summary's `unfunded`
says which due actions the last pass skipped for want of bhUSD.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import IO, Any, cast

from requests.exceptions import RequestException
from web3 import HTTPProvider, Web3

from bulkhead import fmt
from bulkhead.chain import LOCAL_CHAIN_IDS, NodeError
from bulkhead.client import Client, UserError
from bulkhead.deploy import ConfigError, Deployment
from bulkhead.keeper.core import Keeper, KeeperConfig
from bulkhead.keeper.metrics import LOG_FORMATS, EventLog
from bulkhead.keeper.model import MAX_BATCH
from bulkhead.keeper.prometheus import MetricsServer
from bulkhead.keeper.tx import resolve_signer
from bulkhead.risk import WAD

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_MANIFEST = "deployment.json"
GWEI = 10**9


def is_node_error(exc: BaseException) -> bool:
    """True when `exc` means the node cannot be reached (as opposed to a refusal)."""
    return isinstance(exc, (RequestException, ConnectionError, TimeoutError))


@contextlib.contextmanager
def _sigterm_sets(stop: threading.Event, log: EventLog, own: bool = True) -> Iterator[None]:
    """While inside: SIGTERM (a service manager, `kill`) sets `stop` with a log line, so a
    bot ends as Ctrl-C ends it, after the current pass and with its summary. Only when the
    bot owns its stop event (`own`) and runs in the main thread (signals go there); the
    previous handler comes back afterwards."""
    if not own or threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, _frame: Any) -> None:
        log("terminated", signal=signal.Signals(signum).name)
        stop.set()

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def web3_for(rpc_url: str, timeout: float = 10.0) -> Web3:
    """A Web3 without web3's own retries: the keeper does its own back-off."""
    return Web3(
        HTTPProvider(
            rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
    )


class Backoff:
    """Waits that double from `first` up to `cap` seconds; `reset` after a success."""

    def __init__(self, first: float = 0.25, cap: float = 10.0):
        self.first, self.cap = first, cap
        self.next = first
        self.failures = 0

    def fail(self) -> float:
        delay = self.next
        self.next = min(self.next * 2, self.cap)
        self.failures += 1
        return delay

    def reset(self) -> None:
        self.next, self.failures = self.first, 0


def run_keeper(
    keeper: Keeper,
    poll_interval: float = 2.0,
    once: bool = False,
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
    max_backoff: float = 10.0,
    give_up_after: float | None = None,
    on_step: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Step `keeper` until `stop` is set (or once), riding out node outages and odd answers;
    return the metrics summary."""
    stop = stop or threading.Event()
    backoff = Backoff(cap=max_backoff)
    down_since: float | None = None
    errors = 0  # consecutive steps that failed for another reason than the node
    cycles = 0
    try:
        while not stop.is_set():
            try:
                report = keeper.step()
            except Exception as exc:
                delay = backoff.fail()
                if is_node_error(exc):
                    now = time.monotonic()
                    down_since = down_since or now
                    if give_up_after is not None and now - down_since > give_up_after:
                        raise NodeError(f"node unreachable for {now - down_since:.0f} s") from None
                    keeper.log(
                        "node_unreachable",
                        retry_in_s=delay,
                        attempt=backoff.failures,
                        error=type(exc).__name__,
                    )
                else:
                    # a node answering oddly (a state pruned under a call, a malformed
                    # answer): log it, count it, and try again after a pause
                    errors += 1
                    keeper.metrics.failures["step_error"] += 1
                    keeper.log(
                        "step_failed", error=f"{type(exc).__name__}: {exc}"[:300], retry_in_s=delay
                    )
                    if once and errors >= 3:
                        raise
                stop.wait(delay)
                continue
            if down_since is not None:
                keeper.metrics.reconnects += 1
                keeper.log("reconnected", down_s=round(time.monotonic() - down_since, 3))
                down_since = None
            backoff.reset()
            errors = 0
            cycles += 1
            if on_step is not None:
                on_step(report)
            if once and not keeper.tx.in_flight:
                break
            if max_cycles is not None and cycles >= max_cycles:
                break
            stop.wait(poll_interval)
    except KeyboardInterrupt:
        keeper.log("interrupted")
    summary = keeper.metrics.summary()
    keeper.log("summary", **summary)
    return summary


def run(
    rpc_url: str = DEFAULT_RPC_URL,
    manifest: str | Path | Deployment = DEFAULT_MANIFEST,
    account: int | None = None,
    keystore: str | Path | None = None,
    private_key: str | None = None,
    password: str | None = None,
    dry_run: bool = False,
    once: bool = False,
    max_fee: Decimal | float | None = None,
    poll_interval: float = 2.0,
    priority_fee: Decimal | float | None = None,
    native_price: Decimal | float | None = None,
    min_profit: Decimal | float = 0,
    batch_size: int | None = None,
    clear_under_water: bool | None = None,
    log_stream: IO[str] | None = None,
    stop: threading.Event | None = None,
    max_cycles: int | None = None,
    connect_timeout: float = 30.0,
    config: KeeperConfig | None = None,
    log_format: str = "json",
    metrics_port: int | None = None,
) -> dict[str, Any]:
    """Run the keeper and return its metrics summary.

    `metrics_port`: serve the counters in the Prometheus text format on
    http://127.0.0.1:<port>/metrics while the keeper runs (`keeper.prometheus`).

    `max_fee` and `priority_fee` are in gwei, `native_price` and `min_profit` in USD;
    `batch_size` is the most positions per `liquidate_many` (1: one `liquidate` each).
    Raises ConfigError (manifest), NodeError (no node within `connect_timeout`) or
    SignerError (no usable account), each with a one-line message.
    """
    deployment = manifest if isinstance(manifest, Deployment) else Deployment.load(manifest)
    log = EventLog(
        log_stream,
        fmt=log_format,
        decimals={p.name: p.collateral_decimals for p in deployment.pools},
    )
    own_stop = stop is None
    stop = stop or threading.Event()
    with _sigterm_sets(stop, log, own_stop):
        w3 = web3_for(rpc_url)
        _wait_for_node(w3, rpc_url, connect_timeout, log)
        _check_chain(w3, deployment, rpc_url)
        signer = resolve_signer(
            w3, account=account, keystore=keystore, private_key=private_key, password=password
        )
        cfg = config or KeeperConfig()
        cfg.dry_run = dry_run or cfg.dry_run
        if max_fee is not None:
            cfg.max_fee = int(Decimal(str(max_fee)) * GWEI)
        if priority_fee is not None:
            cfg.priority_fee = int(Decimal(str(priority_fee)) * GWEI)
        if native_price is not None:
            cfg.native_price = int(Decimal(str(native_price)) * WAD)
        if min_profit:
            cfg.min_profit = int(Decimal(str(min_profit)) * WAD)
        if batch_size is not None:
            cfg.batch_size = check_batch_size(batch_size)
        if clear_under_water is not None:
            cfg.clear_under_water = clear_under_water
        if once:
            cfg.receipt_wait = max(cfg.receipt_wait, 30.0)
        exporter = None
        if metrics_port is not None:  # bound first: a taken port is the only message
            try:
                exporter = MetricsServer(None, metrics_port)
            except OSError as exc:
                raise NodeError(str(exc)) from None
        try:
            keeper = Keeper(w3, deployment, signer, cfg, log)
        except BaseException:
            if exporter is not None:
                exporter.close()
            raise
        if exporter is not None:
            exporter.metrics = keeper.metrics
            log("metrics", url=f"http://127.0.0.1:{exporter.port}/metrics")
        try:
            summary = run_keeper(
                keeper,
                poll_interval=poll_interval,
                once=once,
                stop=stop,
                max_cycles=max_cycles,
                give_up_after=connect_timeout if once else None,
            )
        finally:
            if exporter is not None:
                exporter.close()
    summary["local_chain"] = deployment.chain_id in LOCAL_CHAIN_IDS
    if keeper.unfunded:
        summary["unfunded"] = _unfunded(keeper)
    return summary


def _unfunded(keeper: Keeper) -> dict[str, Any]:
    """The last pass's due actions that the keeper's bhUSD could not pay for."""
    held = keeper.stablecoin.functions.balanceOf(keeper.address).call()
    needs = [s.need for s in keeper.unfunded]
    return {
        "address": keeper.address,
        "actions": len(needs),
        "bhusd_held": fmt.exact(held, 18),
        "bhusd_largest": fmt.exact(max(needs), 18),
        "bhusd_all": fmt.exact(sum(needs), 18),
    }


def unfunded_message(unfunded: dict[str, Any], local: bool) -> str:
    """One line: why the keeper could not act, and how to fund it."""
    held, total = Decimal(unfunded["bhusd_held"]), Decimal(unfunded["bhusd_all"])
    ask = max(total - held, Decimal(0)).quantize(Decimal("0.01"), rounding=ROUND_UP)
    how = (
        f"`bulkhead faucet --bhusd {ask} --to {unfunded['address']}`"
        if local
        else f"send it at least {ask} bhUSD"
    )
    return (
        f"keeper {unfunded['address']} holds {held:,.2f} bhUSD: {unfunded['actions']} due "
        f"action(s) need {total:,.2f} bhUSD in all (the largest "
        f"{Decimal(unfunded['bhusd_largest']):,.2f}); fund it: {how}"
    )


def _check_chain(w3: Web3, deployment: Deployment, where: str) -> None:
    """The same one-line check the other commands make: the node is the manifest's chain and
    its factory is there (a reset node used to end in a 65-line `InsufficientDataBytes`)."""
    try:
        Client.attach(w3, deployment, where)
    except UserError as exc:
        raise ConfigError(str(exc)) from None


def keeper_from_env(
    w3: Web3, env: Mapping[str, str] | None = None, log_stream: IO[str] | None = None
) -> Keeper:
    """A Keeper configured from the environment (for `bots/keeper.py` under Silverback).

    BULKHEAD_MANIFEST (default deployment.json); the account as `bulkhead keeper run` picks
    it: BULKHEAD_KEYSTORE (+ BULKHEAD_KEYSTORE_PASSWORD), BULKHEAD_ACCOUNT (dev account
    index), BULKHEAD_PRIVATE_KEY, else dev account 7; BULKHEAD_DRY_RUN=1; BULKHEAD_MAX_FEE
    and BULKHEAD_PRIORITY_FEE [gwei]; BULKHEAD_NATIVE_PRICE and BULKHEAD_MIN_PROFIT [USD];
    BULKHEAD_BATCH_SIZE (most positions per `liquidate_many`, 1 to 1,000);
    BULKHEAD_CLEAR_UNDER_WATER=0 to leave positions under water (no bounty) alone;
    BULKHEAD_LOG_FORMAT=text for a log for people; BULKHEAD_WORKER (a fleet worker's name)
    on every log line.
    """
    env = os.environ if env is None else env
    deployment = Deployment.load(env.get("BULKHEAD_MANIFEST", DEFAULT_MANIFEST))
    _check_chain(w3, deployment, "the node")
    account = env.get("BULKHEAD_ACCOUNT")
    signer = resolve_signer(
        w3,
        account=int(account) if account else None,
        keystore=env.get("BULKHEAD_KEYSTORE") or None,
        env=env,
    )
    off = ("", "0", "false")
    cfg = KeeperConfig(
        dry_run=env.get("BULKHEAD_DRY_RUN", "") not in off,
        clear_under_water=env.get("BULKHEAD_CLEAR_UNDER_WATER", "1") not in off,
    )
    for name, attr, unit in (
        ("BULKHEAD_MAX_FEE", "max_fee", GWEI),
        ("BULKHEAD_PRIORITY_FEE", "priority_fee", GWEI),
        ("BULKHEAD_NATIVE_PRICE", "native_price", WAD),
        ("BULKHEAD_MIN_PROFIT", "min_profit", WAD),
    ):
        if env.get(name):
            try:
                setattr(cfg, attr, int(Decimal(env[name]) * unit))
            except ArithmeticError:
                raise ConfigError(f"{name} is not a number: {env[name]!r}") from None
    if env.get("BULKHEAD_BATCH_SIZE"):
        try:
            cfg.batch_size = check_batch_size(env["BULKHEAD_BATCH_SIZE"])
        except ValueError as exc:
            raise ConfigError(f"BULKHEAD_BATCH_SIZE {exc}") from None
    log_format = env.get("BULKHEAD_LOG_FORMAT") or "json"
    if log_format not in LOG_FORMATS:
        raise ConfigError(
            f"BULKHEAD_LOG_FORMAT {log_format!r} is not one of {', '.join(LOG_FORMATS)}"
        )
    decimals = {p.name: p.collateral_decimals for p in deployment.pools}
    # a fleet worker (BULKHEAD_WORKER) names itself on every log line
    context = {"worker": env["BULKHEAD_WORKER"]} if env.get("BULKHEAD_WORKER") else None
    log = EventLog(log_stream, fmt=log_format, decimals=decimals, context=context)
    return Keeper(w3, deployment, signer, cfg, log)


class Heartbeat:
    """Blocks for a block-driven bot on an automine dev node (`bulkhead node`, Hardhat): such
    a node mines only when a transaction comes, and ape's block poller gives up after 10 s
    without one. While the chain head stands still for `every` seconds this mines an empty
    block (`evm_mine`), so the bot keeps checking what time alone changes (interest, stale
    prices) and never times out. Local dev chains only; a node that does not automine (a
    block time, a real chain) needs none."""

    def __init__(self, w3: Web3, every: float = 2.0):
        self.w3, self.every = w3, every
        self.mined = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    @staticmethod
    def needed(w3: Web3) -> bool:
        if w3.eth.chain_id not in LOCAL_CHAIN_IDS:
            return False
        for method in ("anvil_getAutomine", "hardhat_getAutomine"):
            answer = w3.provider.make_request(cast(Any, method), [])
            if "result" in answer:
                return bool(answer["result"])
        return False

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        head, since = None, time.monotonic()
        while not self._stop.wait(self.every / 4):
            try:
                number = self.w3.eth.block_number
                if number != head:
                    head, since = number, time.monotonic()
                elif time.monotonic() - since >= self.every:
                    self.w3.provider.make_request(cast(Any, "evm_mine"), [])
                    self.mined += 1
            except Exception:  # noqa: BLE001 - a node away for a moment: try again next tick
                continue


def check_batch_size(value: int | str) -> int:
    """`value` as a batch size (1 to `MAX_BATCH`); ValueError with a one-line reason."""
    try:
        size = int(str(value).strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if not 1 <= size <= MAX_BATCH:
        raise ValueError(f"{size} is not between 1 and {MAX_BATCH}")
    return size


def _wait_for_node(w3: Web3, rpc_url: str, timeout: float, log: EventLog) -> None:
    backoff = Backoff()
    deadline = time.monotonic() + timeout
    while True:
        try:
            _ = w3.eth.chain_id
            return
        except Exception as exc:
            if not is_node_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise NodeError(f"node not reachable at {rpc_url}") from None
            delay = backoff.fail()
            log("node_unreachable", retry_in_s=delay, attempt=backoff.failures, url=rpc_url)
            time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
