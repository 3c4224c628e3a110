"""A smoke run of the risk model's benchmark at a tiny size, so that it cannot rot (no
timing asserted; `python -m bench.risk` for the real figures)."""

from __future__ import annotations

from bench import report, risk

MACHINE = {
    "nproc": 2, "cpu": "cpu", "ram_gib": 1, "os": "os", "python": "3.11", "vyper": "0.4.3",
    "anvil": "anvil", "commit": "abc", "date": "today",
}  # fmt: skip


def test_bench_risk__tiny_run__every_case_and_the_accuracy_rows():
    data = risk.run(paths=300, positions=200, steps=8, runs=1, accuracy_paths=2_000,
                    progress=lambda _line: None)  # fmt: skip
    assert [c["case"] for c in data["cases"]] == [label for label, *_ in risk.CASES]
    assert [a["health"] for a in data["accuracy"]] == list(risk.ACCURACY_HEALTHS)
    assert all(0 <= c["p_any"] <= 1 for c in data["cases"])
    lines = report._risk_section({**data, "machine": MACHINE, "command": "python -m bench.risk"})
    assert lines[0] == "## Risk model (Monte-Carlo)"
    assert any(line.startswith("| 1.02 |") for line in lines)
