"""Benchmarks of asyncbdd: figures measured side by side in one run, printed as ratios.

Run them all with ``python -m bench`` (see ``bench/README.md``). Each ``bench_*.py``
module in this package exposes ``run(quick: bool) -> list[Result]``; the runner finds
them by name, so a new benchmark is one new module.
"""
