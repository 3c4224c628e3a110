"""The dashboard's web server: the standard library's `ThreadingHTTPServer` and one poller
thread. The poller watches the node's head; at each new block it takes a snapshot, renders
it, and wakes every open `/events` stream (server-sent events), which sends the new body.
Between blocks it refreshes the keeper's metrics every `refresh` seconds.

Routes: `/` the page, `/events` the stream, `/snapshot.json` the numbers, `/healthz`.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bulkhead.client import Client
from bulkhead.keeper import prometheus
from bulkhead.monitor import page
from bulkhead.monitor.snapshot import ActivityLog, RiskSettings, Snapshot, take
from bulkhead.risk import WAD

KEEPALIVE = 15.0  # [seconds] between comments on an idle stream (proxies drop silent ones)


def read_keeper(url: str | None) -> tuple[dict[str, float] | None, str]:
    """The keeper's metrics from its Prometheus page, or why there are none."""
    if not url:
        return None, (
            "no keeper metrics configured: run `bulkhead keeper run --metrics-port 9464` "
            "and start the dashboard with --keeper-metrics http://127.0.0.1:9464/metrics"
        )
    try:
        with urllib.request.urlopen(url, timeout=1.0) as answer:  # noqa: S310 - a local URL
            return prometheus.parse(answer.read().decode()), ""
    except Exception as exc:  # noqa: BLE001 - not running is a state, not an error
        return None, f"keeper not running (no metrics at {url}: {type(exc).__name__})"


def snapshot_json(s: Snapshot) -> dict[str, Any]:
    """The numbers behind the page."""

    def wad(x: int | None) -> float | None:
        return None if x is None else x / WAD

    return {
        "block": s.block,
        "timestamp": s.timestamp,
        "chain_id": s.chain_id,
        "horizon_s": s.horizon,
        "keeper": s.keeper,
        "vault": None
        if s.vault is None
        else {
            "share_price": s.vault.share_price / WAD,
            "total_assets": s.vault.total_assets / WAD,
            "locked": s.vault.locked / WAD,
            "unlock_end": s.vault.unlock_end,
        },
        "pools": [
            {
                "name": p.name,
                "price": wad(p.price),
                "oracle": p.oracle,
                "total_debt": wad(p.total_debt),
                "debt_ceiling": wad(p.debt_ceiling),
                "reserve": wad(p.reserve),
                "bad_debt": wad(p.bad_debt),
                "positions": p.positions,
                "liquidatable": p.liquidatable,
                "histogram": dict(p.histogram),
                "ladder": {str(d): debt / WAD for d, debt in p.ladder},
                "nearest": [
                    {"id": n.id, "owner": n.owner, "health": n.health / WAD, "distance": n.distance}
                    for n in p.nearest
                ],
                "actions": [
                    {"kind": a.kind, "id": a.position, "block": a.block, "bounty": a.bounty}
                    for a in p.actions
                ],
                "risk": None
                if p.risk is None
                else {
                    "p_any": p.risk.p_any,
                    "expected_liquidations": p.risk.expected_liquidations,
                    "var_99": p.risk.var,
                    "es_99": p.risk.es,
                    "vol": p.risk.vol,
                    "vol_source": p.vol_source,
                    "positions": dict((str(i), pr) for i, pr in p.risk.positions()),
                },
                "risk_error": p.risk_error,
            }
            for p in s.pools
        ],
    }


class Dashboard:
    """Serves the live page for one deployment until `close()`."""

    def __init__(
        self,
        client: Client,
        settings: RiskSettings,
        keeper_url: str | None = None,
        poll_interval: float = 1.0,
        refresh: float = 10.0,
    ):
        self.client = client
        self.settings = settings
        self.keeper_url = keeper_url
        self.poll_interval = poll_interval
        self.refresh = refresh
        self.activity = ActivityLog(client)
        self.snapshot: Snapshot | None = None
        self.body = ""
        self.version = 0
        self.error = ""
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self.httpd: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ poller

    def update(self) -> None:
        """Take a snapshot when the head moved, else refresh the keeper's metrics."""
        head = self.client.w3.eth.block_number
        keeper = read_keeper(self.keeper_url)
        if self.snapshot is None or head != self.snapshot.block:
            snap = take(self.client, self.settings, self.activity, keeper)
        else:
            snap = replace(self.snapshot, keeper=keeper[0], keeper_note=keeper[1])
        self._publish(snap, page.body(snap))

    def _publish(self, snap: Snapshot | None, body: str) -> None:
        with self.changed:
            self.snapshot = snap if snap is not None else self.snapshot
            self.body = body
            self.version += 1
            self.changed.notify_all()

    def _poll(self) -> None:
        last_full = 0.0
        while not self.stop.is_set():
            try:
                head = self.client.w3.eth.block_number
                due = time.monotonic() - last_full >= self.refresh
                if self.snapshot is None or head != self.snapshot.block or due or self.error:
                    self.update()
                    last_full = time.monotonic()
                    self.error = ""
            except Exception as exc:  # noqa: BLE001 - the page says the node is gone
                message = f"node not answering ({type(exc).__name__}); retrying"
                if message != self.error:
                    self.error = message
                    banner = f'<div class="bar"><span class="badge bad">{message}</span></div>'
                    self._publish(
                        None, banner + (page.body(self.snapshot) if self.snapshot else "")
                    )
            self.stop.wait(self.poll_interval)

    # ------------------------------------------------------------------ http

    def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Take the first snapshot, bind, and serve in daemon threads; returns the port."""
        self.update()
        handler = type("Handler", (_Handler,), {"dashboard": self})
        try:
            self.httpd = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise OSError(f"cannot serve the dashboard on {host}:{port}: {exc.strerror}") from None
        self.httpd.daemon_threads = True
        for target in (self.httpd.serve_forever, self._poll):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self.httpd.server_address[1]

    def close(self) -> None:
        self.stop.set()
        with self.changed:
            self.changed.notify_all()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()


class _Handler(BaseHTTPRequestHandler):
    dashboard: Dashboard
    protocol_version = "HTTP/1.1"

    def log_message(self, *_args: Any) -> None:
        pass

    def _send(self, code: int, body: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        d = self.dashboard
        route = self.path.split("?")[0]
        if route == "/":
            self._send(200, page.document(d.body).encode(), "text/html; charset=utf-8")
        elif route == "/events":
            self._stream()
        elif route == "/snapshot.json":
            data = snapshot_json(d.snapshot) if d.snapshot else {}
            self._send(200, json.dumps(data).encode(), "application/json")
        elif route == "/healthz":
            self._send(200 if not d.error else 503, (d.error or "ok").encode(), "text/plain")
        else:
            self._send(404, b"not found", "text/plain")

    def _stream(self) -> None:
        d = self.dashboard
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        seen = -1
        try:
            while not d.stop.is_set():
                with d.changed:
                    if d.version == seen:
                        d.changed.wait(KEEPALIVE)
                    version, body = d.version, d.body
                if version == seen:
                    self.wfile.write(b": keepalive\n\n")
                else:
                    data = "".join(f"data: {line}\n" for line in body.splitlines() or [""])
                    self.wfile.write(f"event: snapshot\nid: {version}\n{data}\n".encode())
                    seen = version
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
