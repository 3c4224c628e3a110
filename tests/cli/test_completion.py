"""Shell completion (`eval "$(_BULKHEAD_COMPLETE=bash_source bulkhead)"`): commands, options
and pool names from the manifest, without a node."""

from __future__ import annotations

import json

from click.testing import CliRunner

from bulkhead.cli import cli

MANIFEST_POOLS = ["WETH", "WBTC", "VOL"]


def _complete(words: str, env: dict | None = None) -> list[str]:
    parts = words.split(" ")
    result = CliRunner().invoke(
        cli,
        [],
        env={
            "_BULKHEAD_COMPLETE": "bash_complete",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(parts) - 1),
            **(env or {}),
        },
        prog_name="bulkhead",
    )
    assert result.exit_code == 0, result.output
    return [line.split(",", 1)[1] for line in result.output.splitlines() if line]


def test_completion__script_for_bash__defines_the_function():
    result = CliRunner().invoke(
        cli, [], env={"_BULKHEAD_COMPLETE": "bash_source"}, prog_name="bulkhead"
    )
    assert result.exit_code == 0 and "_bulkhead_completion()" in result.output


def test_completion__commands_and_options():
    assert _complete("bulkhead posi") == ["position"]
    assert "max" not in _complete("bulkhead position borrow --po")
    assert _complete("bulkhead position borrow --po") == ["--pool"]
    assert set(_complete("bulkhead vault ")) == {"show", "deposit", "redeem"}


def test_completion__pool_names__from_the_manifest(cli, tmp_path):
    env = {"BULKHEAD_MANIFEST": str(cli.manifest)}
    assert _complete("bulkhead position show --pool ", env) == MANIFEST_POOLS
    assert _complete("bulkhead position show --pool w", env) == ["WETH", "WBTC"]
    assert _complete("bulkhead oracle set V", env) == ["VOL"]
    # a manifest given on the line wins; none at all offers nothing (and does not fail)
    other = tmp_path / "one.json"
    raw = json.loads(cli.manifest.read_text())
    raw["pools"] = raw["pools"][:1]
    other.write_text(json.dumps(raw))
    assert _complete(f"bulkhead position show --manifest {other} --pool ", env) == ["WETH"]
    assert _complete("bulkhead position show --pool ", {"BULKHEAD_MANIFEST": "/nope.json"}) == []
