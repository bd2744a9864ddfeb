"""The benchmark suite, one command: `.venv/bin/python benchmarks/run.py [--quick] [--only ROWS]`.

Each row measures the operator against its strongest baseline in the same run on the same machine,
alternating the two and taking medians, and prints as it completes; the whole table comes last.
Figures are ratios and rates for people to read: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measure import CACHE, CommandFailed
from benchmarks.table import Row, render

#: Row number -> (module measuring it, what it is).
ROWS = {
    "1": ("benchmarks.overhead_row", "pipeline overhead against plain cryo.freeze"),
    "2": ("benchmarks.etl_row", "against ethereum-etl"),
    "3": ("benchmarks.validate_row", "validation speed"),
    "4": ("benchmarks.stub_row", "stub throughput and memory"),
    "5": ("benchmarks.rerun_row", "idempotent rerun, local and S3"),
    "6": ("benchmarks.ray_row", "the Ray executor beside the local one"),
    "7": ("benchmarks.byhand_row", "against cryo.freeze then a boto3 upload to S3"),
    "8": ("benchmarks.remote_row", "a remote RPC: 20 ms a request"),
    "9": ("benchmarks.ceiling_row", "the node's ceiling for Cryo's calls"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (for a look, not for the README)")
    parser.add_argument("--only", default=",".join(ROWS), metavar="ROWS", help="comma-separated rows (default: all)")
    args = parser.parse_args(argv)
    chosen = [r.strip() for r in args.only.split(",") if r.strip()]
    unknown = [r for r in chosen if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {', '.join(unknown)}: choose from {', '.join(ROWS)}")
    CACHE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="work-", dir=CACHE))
    began = time.perf_counter()
    try:
        rows = [row for number in chosen for row in measure_row(number, work / f"row{number}", args.quick)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{render(rows)}\n\n{len(rows)} figures in {time.perf_counter() - began:.0f} s")
    return 1 if any(row.figure.startswith("failed") for row in rows) else 0


def measure_row(number: str, work: Path, quick: bool) -> list[Row]:
    """The figures of one row, printed as they come; a row that cannot run says so and the others go on."""
    module, title = ROWS[number]
    print(f"row {number}: {title}", flush=True)
    began = time.perf_counter()
    work.mkdir()
    try:
        found = importlib.import_module(module).measure(work, quick)
    except (CommandFailed, RuntimeError, OSError) as error:
        print(f"  failed: {error}", flush=True)
        found = [Row(number, f"failed: {str(error).splitlines()[0][:60]}", "-", "-", "-", False)]
    for row in found:
        print("  " + " | ".join(row.cells()), flush=True)
    print(f"  ({time.perf_counter() - began:.0f} s)", flush=True)
    return found


if __name__ == "__main__":
    sys.exit(main())
