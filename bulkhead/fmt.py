"""Human units in and out: parsing amounts, formatting numbers, plain-text tables.

Amounts travel as integers in contract units (token units, [wad]); people type and read
decimals. Parsing is exact (`Decimal`), never through floats.
"""

from __future__ import annotations

import datetime as _dt
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from bulkhead.errors import BulkheadError
from bulkhead.risk import MAX_UINT256, WAD


class AmountError(BulkheadError, ValueError):
    """A number a user typed that cannot be used; the message is one line."""


# no amount of any token comes near this many whole units: a bound that keeps a typo such as
# 1e400 from becoming a 400-digit integer
MAX_AMOUNT = Decimal(10) ** 30


def short(text: str, width: int = 32) -> str:
    """`text` cut to `width` characters for an error message."""
    text = str(text)
    return text if len(text) <= width else f"{text[: width - 3]}..."


def parse_decimal(text: str) -> Decimal:
    """A finite, non-negative decimal below MAX_AMOUNT from `text` (`2.5`, `1000`, `1e3`,
    `1_000`)."""
    cleaned = str(text).strip()
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise AmountError(f"malformed number {short(text)!r}") from None
    if not number.is_finite():
        raise AmountError(f"malformed number {short(text)!r}")
    if number < 0:
        raise AmountError(f"negative number {short(text)!r}")
    if number >= MAX_AMOUNT:
        raise AmountError(f"number {short(text)!r} is too large (at most 1e30)")
    return number


def parse_share(text: str) -> Decimal:
    """A share written as a percent or a fraction, one rule for every command: `15%` and
    `0.15` are 15 %; a bare number of 1 or more is read as percent (`40` is 40 %)."""
    cleaned = str(text).strip()
    if cleaned.endswith("%"):
        return parse_decimal(cleaned[:-1]) / 100
    number = parse_decimal(cleaned)
    return number if number < 1 else number / 100


def to_units(amount: Decimal, decimals: int, symbol: str = "") -> int:
    """`amount` in integer units of a token with `decimals`; refuses extra precision."""
    units = amount.scaleb(decimals)
    if units != units.to_integral_value():
        name = f"{symbol} has" if symbol else "the token has"
        raise AmountError(f"{short(f'{amount:f}')} has more decimals than {name} ({decimals})")
    return int(units)


def parse_units(text: str, decimals: int, symbol: str = "") -> int:
    """Parse a human amount straight into integer units."""
    return to_units(parse_decimal(text), decimals, symbol)


def to_decimal(units: int, decimals: int) -> Decimal:
    """Integer units as an exact decimal."""
    return Decimal(units).scaleb(-decimals)


def exact(units: int, decimals: int) -> str:
    """Integer units as an exact decimal string without exponent (for JSON)."""
    text = format(to_decimal(units, decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def amount(units: int, decimals: int, places: int = 4, down: bool = False) -> str:
    """Integer units for a table: thousands separators, at most `places` decimals
    (rounded down with `down`, for a limit that must not be passed)."""
    value = to_decimal(units, decimals)
    if down:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    if value != 0 and abs(value) < Decimal(1).scaleb(-places):
        return f"{value:.{places}E}"
    text = f"{value:,.{places}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def usd(wad: int, places: int = 2, down: bool = False) -> str:
    """A [wad] amount of USD or bhUSD with `places` decimals (rounded down with `down`)."""
    value = to_decimal(wad, 18)
    if down:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_DOWN)
    if 0 < value < Decimal(1).scaleb(-places):
        # a dust amount: plain digits to its third significant one (0.000149, not 1.490E-4)
        return f"{value:.{min(18, 2 - value.adjusted())}f}".rstrip("0")
    return f"{value:,.{places}f}"


def usd_apart(a: int, b: int) -> tuple[str, str]:
    """Two [wad] amounts with as many decimals as it takes to tell them apart."""
    for places in (2, 6, 18):
        x, y = usd(a, places), usd(b, places)
        if x != y:
            break
    return x, y


def amount_apart(a: int, b: int, decimals: int) -> tuple[str, str]:
    """Two token amounts with as many decimals as it takes to tell them apart."""
    for places in (4, decimals):
        x, y = amount(a, decimals, places), amount(b, decimals, places)
        if x != y:
            break
    return x, y


def price(wad: int) -> str:
    """A [wad] price: 2 decimals, more when it is small."""
    value = to_decimal(wad, 18)
    if value >= 100:
        return f"{value:,.2f}"
    if value >= 1:
        return f"{value:,.4f}"
    return f"{value:.6g}"


def health(wad: int | None) -> str:
    """A health [wad]: `-` without debt, `?` when unknown."""
    if wad is None:
        return "?"
    if wad >= MAX_UINT256:
        return "-"
    return f"{Decimal(wad) / WAD:.3f}"


def health_json(wad: int | None) -> str | None:
    """A health for JSON: exact decimal string, `null` when unknown or without debt."""
    if wad is None or wad >= MAX_UINT256:
        return None
    return exact(wad, 18)


def bps(value: int) -> str:
    """A [bps] value as a percentage."""
    return f"{Decimal(value) / 100:g}%"


def table(headers: list[str], rows: list[list[str]], right: set[int] | None = None) -> str:
    """A plain-text table; columns in `right` (default: all but the first) align right."""
    right = set(range(1, len(headers))) if right is None else right
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            out.append(cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
        return "  ".join(out).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def timestamp(seconds: int) -> str:
    """A chain timestamp [seconds] as UTC: `2026-12-03 19:30:05 UTC`."""
    moment = _dt.datetime.fromtimestamp(seconds, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
