"""Speed against an earlier commit: `bench.scan` and `bench.reaction` of two commits, one
machine, one session.

A refactor must not make the keeper slower. This checks out `--base` and `--head` (default
HEAD) as two detached git worktrees and runs each benchmark for both in turn (base, head,
then head, base for the next one, so that a drift of the machine's load hits both), with
this interpreter and this machine's Anvil:

- `bench.scan`: each commit's own harness and JSON-RPC client, in its worktree;
- `bench.reaction`: the head's harness for both, each starting its own commit's keeper
  (`env -C <worktree> python -m bulkhead keeper run ...`), so that only the keeper differs;
  one attempt at a time, the two sides taking turns.

It writes bench/results/compare.json, which `python -m bench.report` renders in
docs/PERFORMANCE.md.

    python -m bench.compare --base 4687e28
    python -m bench.compare --base 4687e28 --sizes 10000,100000 --reaction-runs 9

Only committed code is compared: a dirty working tree is neither side.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, summarize, write_result
from bench.reaction import DEFAULT_KEEPER_CMD


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def _worktree(commit: str, parent: Path) -> Path:
    path = parent / commit[:12]
    _git("worktree", "add", "--detach", str(path), commit)
    return path


def _bench(tree: Path, name: str, args: list[str]) -> dict[str, Any]:
    """Run `python -m bench.<name>` in `tree` and return its bench/results/<name>.json."""
    print(f"compare: {tree.name}: python -m bench.{name} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", f"bench.{name}", *args], cwd=tree, check=True)
    return json.loads((tree / "bench" / "results" / f"{name}.json").read_text())


def _keeper(tree: Path) -> str:
    """The reaction harness's keeper command, run from `tree` (so its own `bulkhead`)."""
    return f"env -C {tree} {DEFAULT_KEEPER_CMD}"


def _scan_summary(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "positions": row["positions"],
            "paginated": row["seconds"]["paginated"],
            "paginated_web3": row["seconds"]["paginated_web3"],
        }
        for row in data["sizes"]
    ]


def _reaction_summary(mode: str, attempts: list[dict[str, Any]]) -> dict[str, Any]:
    done = [a for a in attempts if not a.get("timed_out")]
    summary: dict[str, Any] = {
        "mode": mode,
        "timed_out": len(attempts) - len(done),
        "unaligned": sum(1 for a in attempts if not a.get("aligned", False)),
    }
    for key in ("blocks", "seconds", "chain_seconds"):
        summary[key] = summarize([a[key] for a in done]) if done else None
    return summary


def _reactions(
    trees: dict[str, Path], modes: list[str], runs: int, positions: int
) -> dict[str, list[dict[str, Any]]]:
    """Each attempt its own `bench.reaction --runs 1` under the head's harness; the sides
    take turns (base first in even rounds, head first in odd ones)."""
    attempts: dict[str, dict[str, list]] = {s: {m: [] for m in modes} for s in ("base", "head")}
    for i in range(runs):
        for mode in modes:
            for side in ("base", "head") if i % 2 == 0 else ("head", "base"):
                args = ["--runs", "1", "--modes", mode, "--positions", str(positions)]
                data = _bench(
                    trees["head"], "reaction", [*args, "--keeper-cmd", _keeper(trees[side])]
                )
                if data.get("status") != "measured":
                    raise SystemExit(f"compare: reaction not measured: {data.get('reason')}")
                attempts[side][mode] += data["modes"][0]["attempts"]
    return {
        side: [_reaction_summary(mode, attempts[side][mode]) for mode in modes]
        for side in ("base", "head")
    }


def run(
    base: str, head: str, scan_args: list[str], modes: list[str], runs: int, positions: int
) -> dict[str, Any]:
    commits = {"base": _git("rev-parse", base), "head": _git("rev-parse", head)}
    data: dict[str, Any] = {
        "base": {"ref": base, "commit": commits["base"][:7]},
        "head": {"ref": head, "commit": commits["head"][:7]},
    }
    with tempfile.TemporaryDirectory(prefix="bulkhead-compare-") as tmp:
        trees = {side: _worktree(commit, Path(tmp)) for side, commit in commits.items()}
        try:
            scans = {side: _bench(trees[side], "scan", scan_args) for side in ("base", "head")}
            data["scan"] = {side: _scan_summary(scans[side]) for side in ("base", "head")}
            data["reaction"] = _reactions(trees, modes, runs, positions)
        finally:
            for tree in trees.values():
                _git("worktree", "remove", "--force", str(tree))
    data["reaction_positions"] = positions
    return data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compare", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--base", required=True, help="the earlier commit")
    parser.add_argument("--head", default="HEAD")
    parser.add_argument("--sizes", default="1000,10000,100000", help="bench.scan --sizes")
    parser.add_argument("--runs", type=int, default=15, help="bench.scan --runs")
    parser.add_argument("--reaction-runs", type=int, default=5, help="attempts per side and mode")
    parser.add_argument("--reaction-modes", default="automine,2s", help="bench.reaction --modes")
    parser.add_argument("--positions", type=int, default=1_000, help="bench.reaction --positions")
    args = parser.parse_args(argv)
    scan_args = ["--sizes", args.sizes, "--runs", str(args.runs), "--naive-runs", "1"]
    modes = args.reaction_modes.split(",")
    data = run(args.base, args.head, scan_args, modes, args.reaction_runs, args.positions)
    data["command"] = " ".join(
        ["python -m bench.compare", *(sys.argv[1:] if argv is None else argv)]
    )
    print(f"wrote {write_result('compare', data)}")


if __name__ == "__main__":
    main()
