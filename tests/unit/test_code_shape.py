"""The code-shape gate: files in bulkhead/ of at most 500 lines and functions of at most 60,
except those listed with their size and reason in pyproject.toml ([tool.bulkhead.shape]),
which may shrink but never grow. Reads the source as text; runs nothing."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHAPE = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["bulkhead"]["shape"]


def _sources() -> list[Path]:
    return sorted((ROOT / "bulkhead").rglob("*.py"))


def _name(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _functions(path: Path) -> dict[str, int]:
    """Lines of each function from its `def` to its last line (the longest of a name)."""
    out: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            key = f"{_name(path)}:{node.name}"
            out[key] = max(out.get(key, 0), (node.end_lineno or node.lineno) - node.lineno + 1)
    return out


def _check(sizes: dict[str, int], limit: int, listed: dict[str, dict]) -> list[str]:
    problems = []
    for name, size in sorted(sizes.items()):
        entry = listed.get(name)
        if size > limit and entry is None:
            problems.append(f"{name}: {size} lines, over {limit} and not listed")
        elif entry is not None and size > entry["lines"]:
            problems.append(f"{name}: {size} lines, grew past its listed {entry['lines']}")
    for name, entry in listed.items():
        if not entry.get("why"):
            problems.append(f"{name}: listed without a reason")
        if sizes.get(name, 0) <= limit:
            problems.append(f"{name}: {sizes.get(name, 0)} lines, within {limit}: unlist it")
    return problems


def test_files__at_most_500_lines_or_listed_and_not_growing():
    sizes = {_name(p): len(p.read_text().splitlines()) for p in _sources()}
    problems = _check(sizes, SHAPE["max_file_lines"], SHAPE["files"])
    assert not problems, "\n".join(problems)


def test_functions__at_most_60_lines_or_listed_and_not_growing():
    sizes: dict[str, int] = {}
    for path in _sources():
        sizes.update(_functions(path))
    problems = _check(sizes, SHAPE["max_function_lines"], SHAPE["functions"])
    assert not problems, "\n".join(problems)


def test_check__catches_an_unlisted_a_grown_and_a_stale_entry():
    listed = {"b": {"lines": 70, "why": "x"}, "c": {"lines": 80, "why": "y"}}
    problems = _check({"a": 61, "b": 71, "c": 50}, 60, listed)
    assert problems == [
        "a: 61 lines, over 60 and not listed",
        "b: 71 lines, grew past its listed 70",
        "c: 50 lines, within 60: unlist it",
    ]
