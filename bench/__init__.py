"""Benchmarks of invoice-reactor (issue 6): `python -m bench` from the repository root.

Each benchmark prints a table and writes `bench/results/<name>.json`; `bench/report.py`
renders BENCHMARKS.md from those files.
"""
