"""A tiny run of the fleet benchmark (`python -m bench.fleet`): every prepared position is
made unsafe and cleared, and the report renders its section."""

from __future__ import annotations

from bench.fleet import run, section


def test_fleet_bench__tiny_run__every_position_cleared_and_the_section_renders():
    result = run(workers=(2,), positions=300, block_time=1)
    (row,) = result["runs"]
    assert row["unsafe"] == row["liquidated"] == result["positions"] == 300
    assert row["blocks"] >= 1 and row["liquidations_per_block"]["max"] >= 1
    assert row["failures"] == {}
    lines = section({**result, "command": "python -m bench.fleet"})
    assert lines[0] == "## Keeper fleet"
    assert any(line.startswith("| 2 | ") for line in lines)
