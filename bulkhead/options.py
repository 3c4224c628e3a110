"""Command-line options that several `bulkhead` commands share, declared once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from bulkhead.chain import resolve_rpc_url

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_MANIFEST = "deployment.json"


def _rpc_url(_ctx: Any, _param: Any, value: str) -> str:
    try:
        return resolve_rpc_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def node_options(f: Callable) -> Callable:
    """`--rpc-url` (alias `--network`) and `--manifest`, with their environment variables."""
    f = click.option(
        "--manifest",
        envvar="BULKHEAD_MANIFEST",
        default=DEFAULT_MANIFEST,
        show_default=True,
        type=click.Path(dir_okay=False),
        help="Deployment manifest (env BULKHEAD_MANIFEST).",
    )(f)
    return click.option(
        "--rpc-url",
        "--network",
        "rpc_url",
        envvar="BULKHEAD_RPC_URL",
        default=DEFAULT_RPC_URL,
        show_default=True,
        callback=_rpc_url,
        help="The node: a JSON-RPC URL, or local, anvil or hardhat (env BULKHEAD_RPC_URL).",
    )(f)


def account_options(default: str = "env BULKHEAD_PRIVATE_KEY, else 0") -> Callable:
    """`--account` (a dev account index) and `--keystore` (an encrypted key file), as
    `bulkhead.accounts.resolve` reads them; `default` says which account sends without
    them."""

    def decorate(f: Callable) -> Callable:
        f = click.option(
            "--keystore",
            type=click.Path(dir_okay=False),
            help="Encrypted key file (password from env BULKHEAD_KEYSTORE_PASSWORD or a prompt).",
        )(f)
        return click.option(
            "--account",
            type=click.IntRange(min=0),
            help=f"Dev account index on a local chain [default: {default}].",
        )(f)

    return decorate
