"""Command-line options and value types that several `bulkhead` commands share, declared
once: the main CLI, `keeper`, `steward`, `risk`/`dashboard` and `keeper fleet` all take
them from here."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import click

from bulkhead import fmt
from bulkhead.chain import resolve_rpc_url
from bulkhead.fmt import AmountError

DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_MANIFEST = "deployment.json"

# ------------------------------------------------------------------ options


def rpc_url_option(value: str | None) -> str | None:
    """`--rpc-url`/`--network` as `chain.resolve_rpc_url` reads it; a usage error if not."""
    try:
        return None if value is None else resolve_rpc_url(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def rpc_option(f: Callable) -> Callable:
    """`--rpc-url` (alias `--network`), env BULKHEAD_RPC_URL."""
    return click.option(
        "--rpc-url",
        "--network",
        "rpc_url",
        envvar="BULKHEAD_RPC_URL",
        default=DEFAULT_RPC_URL,
        show_default=True,
        callback=lambda _ctx, _param, value: rpc_url_option(value),
        help="The node: a JSON-RPC URL, or local, anvil or hardhat (port 8545), or an ape "
        "choice such as ethereum:local:http://127.0.0.1:8545 (env BULKHEAD_RPC_URL).",
    )(f)


def manifest_option(f: Callable) -> Callable:
    """`--manifest`, env BULKHEAD_MANIFEST."""
    return click.option(
        "--manifest",
        envvar="BULKHEAD_MANIFEST",
        default=DEFAULT_MANIFEST,
        show_default=True,
        type=click.Path(dir_okay=False),
        help="Deployment manifest (env BULKHEAD_MANIFEST).",
    )(f)


def json_option(f: Callable) -> Callable:
    """`--json`: JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(f)


def node_options(f: Callable) -> Callable:
    """`--rpc-url` (alias `--network`) and `--manifest`, with their environment variables."""
    return rpc_option(manifest_option(f))


def seconds_option(*decls: str, default: float, least: float, help: str) -> Callable:
    """A number of seconds no smaller than `least`: poll intervals, timeouts, lease lives."""
    return click.option(
        *decls, type=click.FloatRange(min=least), default=default, show_default=True, help=help
    )


def log_format_option(text: str = "text") -> Callable:
    """`--log-format json|text` of a bot's log on stderr, env BULKHEAD_LOG_FORMAT; `text`
    says what the text format holds."""
    from bulkhead.keeper.metrics import LOG_FORMATS  # the bots' one log writer

    return click.option(
        "--log-format",
        type=click.Choice(LOG_FORMATS),
        default="json",
        show_default=True,
        envvar="BULKHEAD_LOG_FORMAT",
        help=f"The log on stderr: a JSON object per line, or {text} (env BULKHEAD_LOG_FORMAT).",
    )


def account_options(
    default: str = "env BULKHEAD_PRIVATE_KEY, else 0", prompt: bool = True
) -> Callable:
    """`--account` (a dev account index) and `--keystore` (an encrypted key file), as
    `bulkhead.eth.accounts.identify` reads them; `default` says which account sends without
    them, `prompt` whether a keystore's password may be asked for."""
    password = "env BULKHEAD_KEYSTORE_PASSWORD" + (" or a prompt" if prompt else "")

    def decorate(f: Callable) -> Callable:
        f = click.option(
            "--keystore",
            type=click.Path(dir_okay=False),
            help=f"Encrypted key file (password from {password}).",
        )(f)
        return click.option(
            "--account",
            type=click.IntRange(min=0),
            help=f"Dev account index on a local chain [default: {default}].",
        )(f)

    return decorate


# ------------------------------------------------------------------ value types


class DecimalType(click.ParamType):
    """A non-negative decimal in human units (`2.5`, `1000`, `1e3`)."""

    name = "number"
    parse = staticmethod(fmt.parse_decimal)

    def convert(self, value: Any, param: Any, ctx: Any) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            return self.parse(value)
        except AmountError as exc:
            self.fail(str(exc), param, ctx)


NUMBER = DecimalType()


class AmountOr(DecimalType):
    """A NUMBER, or one word that stands for a computed amount (`all`, `max`)."""

    def __init__(self, word: str):
        self.word = word
        self.name = f"number|{word}"

    def convert(self, value: Any, param: Any, ctx: Any) -> Decimal | str:  # type: ignore[override]
        if isinstance(value, str) and value.strip().lower() == self.word:
            return self.word
        return super().convert(value, param, ctx)


class PercentType(DecimalType):
    """A share: `15%`, `0.15` or `15` (`fmt.parse_share`)."""

    name = "percent"
    parse = staticmethod(fmt.parse_share)


PERCENT = PercentType()


class BpsType(click.ParamType):
    """A share in whole basis points: `30%`, `0.3` or `30` (`fmt.parse_share`) -> 3000."""

    name = "percent"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        try:
            share = fmt.parse_share(value)
        except AmountError as exc:
            self.fail(str(exc), param, ctx)
        bps = share * 10_000
        if bps != bps.to_integral_value():
            self.fail(f"{value!r} is finer than a basis point", param, ctx)
        if bps > 10_000:
            self.fail(f"{value!r} is above 100%", param, ctx)
        return int(bps)


BPS = BpsType()

_UNITS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}


class DurationType(click.ParamType):
    """Seconds: `3600`, `3600s`, `60m`, `1h`, `1d`, `1w`."""

    name = "duration"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        unit = text[-1:] if text[-1:] in _UNITS else "s"
        number = text[:-1] if text[-1:] in _UNITS else text
        try:
            seconds = float(number) * _UNITS[unit]
        except ValueError:
            self.fail(f"{value!r} is not a duration such as 3600, 60m, 1h or 1d", param, ctx)
        if not math.isfinite(seconds) or seconds < 0 or seconds != int(seconds):
            self.fail(f"{value!r} is not a whole, non-negative number of seconds", param, ctx)
        return int(seconds)


DURATION = DurationType()


class VolType(click.ParamType):
    """A yearly volatility for every pool (`80%`, `0.8`) or one pool's (`WETH=80%`), as
    (pool or `*`, volatility); above `ceiling` (a fraction) when given, a usage error."""

    name = "[POOL=]vol"

    def __init__(self, ceiling: float | None = None):
        self.ceiling = ceiling

    def convert(self, value: Any, param: Any, ctx: Any) -> tuple[str, float]:
        if isinstance(value, tuple):
            return value
        pool, _, share = str(value).strip().rpartition("=")
        try:
            vol = float(fmt.parse_share(share))
        except AmountError as exc:
            self.fail(f"volatility {fmt.short(share)!r}: {exc}", param, ctx)
        if self.ceiling is not None and vol > self.ceiling:
            self.fail(
                f"volatility {fmt.short(share)!r} is beyond any market "
                f"(at most {self.ceiling:.0%})",
                param,
                ctx,
            )
        return (pool.strip() or "*", vol)
