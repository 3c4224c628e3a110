"""Bulkhead benchmarks: gas per operation, bytecode sizes, keeper discovery speed, reaction.

Run everything and write docs/PERFORMANCE.md with `make bench` (or `python -m bench`).
Each benchmark also runs alone, e.g. `python -m bench.scan --sizes 1000`.
"""
