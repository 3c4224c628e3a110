"""`bulkhead status --watch`: the status table redrawn in place (rich's `Live`) at each
interval, until Ctrl-C; with `--json`, one JSON object per line instead."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import click
from requests.exceptions import RequestException
from rich.console import Console
from rich.live import Live
from rich.text import Text

from bulkhead.chain import NodeError


def watch(
    render: Callable[[], Any], as_json: bool, interval: float, refreshes: int | None = None
) -> None:
    """Call `render` every `interval` seconds and show its result; a node that stops
    answering is shown (and retried), not fatal."""
    count = 0
    console = Console(file=click.get_text_stream("stdout"), highlight=False)
    if not console.is_terminal:  # a pipe or a file: whole lines, never cut at 80 columns
        console.width = 1_000
    live = Live(console=console, auto_refresh=False, vertical_overflow="visible")
    with live:
        try:
            while refreshes is None or count < refreshes:
                count += 1
                stamp = time.strftime("%H:%M:%S")
                try:
                    result = render()
                    note = f"refreshed {stamp} (#{count}), every {interval:g} s; Ctrl-C to stop"
                except (RequestException, NodeError, ConnectionError) as exc:
                    result = None
                    note = f"{stamp}: the node is not answering ({type(exc).__name__}); retrying"
                if as_json:
                    if result is not None:
                        click.echo(json.dumps(result, separators=(",", ":")))
                else:
                    body = "" if result is None else str(result)
                    shown = Text(
                        f"{body}\n\n{note}" if body else note, no_wrap=True, overflow="ignore"
                    )
                    live.update(shown, refresh=True)
                if refreshes is not None and count >= refreshes:
                    break
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
