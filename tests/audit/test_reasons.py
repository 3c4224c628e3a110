"""Every revert reason a contract can give appears, quoted exactly, in at least one test.

The house rule (STYLE.md: "Every reason string appears in at least one `ape.reverts` test"),
checked on the sources so that a new `assert ..., "contract: reason"` without a test fails
here. Mocks are test tools and are left out.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REASON = re.compile(r'assert [^\n]*?,\s*"([a-z0-9_]+: [^"]+)"')


def _reasons() -> set[str]:
    found = set()
    for path in (ROOT / "contracts").rglob("*.vy"):
        if "mocks" not in path.parts:
            found |= set(REASON.findall(path.read_text()))
    return found


def test_reasons__every_contract_reason__is_asserted_by_a_test() -> None:
    reasons = _reasons()
    assert len(reasons) > 90  # the pattern still finds the contracts' asserts
    tests = "\n".join(
        p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != "test_reasons.py"
    )
    missing = sorted(r for r in reasons if f'"{r}"' not in tests)
    assert missing == [], f"reasons no test asserts: {missing}"
