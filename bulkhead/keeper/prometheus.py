"""The keeper's counters in the Prometheus text format (version 0.0.4), served over HTTP
by `bulkhead keeper run --metrics-port`; and a reader of that format for the dashboard.

Only the standard library: one thread with an `http.server` that renders `Metrics` on
every scrape of `/metrics`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bulkhead.keeper.metrics import KIND_ORDER, Metrics
from bulkhead.risk import WAD

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "bulkhead_keeper_"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    escaped = (
        f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
    )
    return "{" + ",".join(escaped) + "}"


def _family(
    name: str, kind: str, help_text: str, samples: Iterable[tuple[dict[str, str], float]]
) -> list[str]:
    lines = [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} {kind}"]
    lines += [f"{PREFIX}{name}{_labels(labels)} {value:g}" for labels, value in samples]
    return lines


def render(metrics: Metrics) -> str:
    """Every counter of `metrics` in the Prometheus text format."""
    m = metrics
    kinds = KIND_ORDER
    pools = sorted({name for name, _ in m.pool_done} | set(m.pool_bounty))
    lines: list[str] = []
    lines += _family("up", "gauge", "1 while the keeper runs.", [({}, 1)])
    lines += _family(
        "uptime_seconds", "gauge", "Seconds since start.", [({}, time.monotonic() - m.started)]
    )
    lines += _family("cycles_total", "counter", "Passes over the pools.", [({}, m.cycles)])
    lines += _family(
        "positions_scanned_total",
        "counter",
        "Position ids covered by the liquidation views.",
        [({}, m.positions_scanned)],
    )
    lines += _family(
        "actions_total",
        "counter",
        "Mined actions by pool and kind.",
        [({"pool": p, "kind": k}, m.pool_done[(p, k)]) for p in pools for k in kinds]
        or [({"pool": "", "kind": k}, m.done[k]) for k in kinds],
    )
    lines += _family(
        "bounty_usd_total",
        "counter",
        "USD earned by pool.",
        [({"pool": p}, m.pool_bounty[p] / WAD) for p in pools] or [({"pool": ""}, 0)],
    )
    lines += _family(
        "gas_spent_usd_total", "counter", "USD of gas spent.", [({}, m.gas_spent_usd / WAD)]
    )
    lines += _family("txs_sent_total", "counter", "Transactions sent.", [({}, m.txs_sent)])
    lines += _family(
        "failures_total",
        "counter",
        "Failed actions by reason.",
        [({"reason": r}, n) for r, n in sorted(m.failures.items())],
    )
    lines += _family(
        "skips_total",
        "counter",
        "Skipped actions by reason.",
        [({"reason": r}, n) for r, n in sorted(m.skips.items())],
    )
    windows = sorted(m.windows.items())
    if windows:
        lines += _family(
            "liquidations_open",
            "gauge",
            "1 while the pool lets liquidations through; 0 while paused or in its grace window.",
            [({"pool": p}, int(w.liquidations == "open")) for p, w in windows],
        )
        lines += _family(
            "pool_paused",
            "gauge",
            "1 while the pool is paused.",
            [({"pool": p}, int(w.liquidations == "paused")) for p, w in windows],
        )
        lines += _family(
            "grace_seconds_left",
            "gauge",
            "Seconds of chain time until the grace window after an unpause ends and "
            "liquidations open (0 outside one), at the last pass.",
            [({"pool": p}, w.seconds_left) for p, w in windows],
        )
    lines += _family("fee_bumps_total", "counter", "Fee bumps.", [({}, m.fee_bumps)])
    lines += _family("reconnects_total", "counter", "Node reconnects.", [({}, m.reconnects)])
    lines += _family("rpc_requests_total", "counter", "JSON-RPC requests.", [({}, m.rpc_requests)])
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    exporter: MetricsServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        metrics = self.exporter.metrics
        if self.path.split("?")[0] != "/metrics" or metrics is None:
            self.send_error(404, "only /metrics")
            return
        body = render(metrics).encode()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:  # scrapes are not worth a log line
        pass


class MetricsServer:
    """`/metrics` on `host:port` in a daemon thread; `close()` stops it. The port is bound
    at once (a taken port fails before anything else starts); `metrics` may come later."""

    def __init__(self, metrics: Metrics | None, port: int, host: str = "127.0.0.1"):
        self.metrics = metrics
        handler = type("Handler", (_Handler,), {"exporter": self})
        try:
            self.httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise OSError(f"cannot serve metrics on {host}:{port}: {exc.strerror}") from None
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def parse(text: str) -> dict[str, float]:
    """Samples of a Prometheus text page: `name{labels}` (as written) -> value."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        try:
            out[key] = float(value)
        except ValueError:
            continue
    return out
