"""A smoke run of the risk model's benchmark at a tiny size, so that it cannot rot (no
timing asserted; `python -m bench.risk` for the real figures)."""

from __future__ import annotations

from bench import report, risk
from bench.common import write_result


def test_bench_risk__tiny_run__every_case_and_the_accuracy_rows(tmp_path):
    data = risk.run(paths=300, positions=200, steps=8, runs=1, accuracy_paths=2_000,
                    progress=lambda _line: None)  # fmt: skip
    assert [c["case"] for c in data["cases"]] == [label for label, *_ in risk.CASES]
    assert [a["health"] for a in data["accuracy"]] == list(risk.ACCURACY_HEALTHS)
    assert all(0 <= c["p_any"] <= 1 for c in data["cases"])
    data["command"] = "python -m bench.risk"
    write_result("risk", data, tmp_path)
    text = report.render(tmp_path)
    assert "## Risk model (Monte-Carlo)" in text
    assert "Reproduce: `python -m bench.risk`" in text
    assert "| 1.02 |" in text
