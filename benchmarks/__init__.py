"""The benchmark suite: `.venv/bin/python benchmarks/run.py`."""
