"""Row 4: the stub pipeline's speed over 100,000 blocks, and its peak memory for 20,000 and 200,000."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from benchmarks.dags import write_dag
from benchmarks.measure import Run, alternate, cli, local_env, median, run, spread
from benchmarks.table import Row

BLOCKS = 100_000
PARTITION = 10_000
TARGET_RATE = 50_000
MEMORY_SIZES = (20_000, 200_000)
TARGET_MEMORY = 1.25
#: The floor: the stub alone writing the same files in one thread, no staging, hashing or publishing.
STUB_ONLY = (
    "import sys, pathlib\n"
    "from cryo_ingest.extract.stub import DATASETS\n"
    "from cryo_ingest.extract.stub.writer import write_chunks\n"
    "write_chunks(DATASETS, 10143, 0, int(sys.argv[2]) - 1, 1000, pathlib.Path(sys.argv[1]))\n"
)


def run_stub(work: Path, blocks: int) -> Run:
    """`cryo-ingest run` of blocks 0..blocks-1 into a fresh local store."""
    dag = write_dag(work / f"stub-{blocks}.yaml", 0, blocks - 1, PARTITION)
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    try:
        return run(cli("run", dag, "--job", "bench", "--store", store), local_env(work))
    finally:
        shutil.rmtree(store, ignore_errors=True)


def run_stub_only(work: Path, blocks: int) -> Run:
    out = work / "stub-only"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    try:
        return run([sys.executable, "-c", STUB_ONLY, str(out), str(blocks)])
    finally:
        shutil.rmtree(out, ignore_errors=True)


def measure(work: Path, quick: bool) -> list[Row]:
    ours, floor = alternate(
        lambda: run_stub(work, BLOCKS).seconds, lambda: run_stub_only(work, BLOCKS).seconds, 2 if quick else 3
    )
    print(f"  run {BLOCKS:,} blocks: {spread(ours)}; stub.write_chunks alone: {spread(floor)}")
    rate = BLOCKS / median(ours)
    small, large = (run_stub(work, blocks).peak_rss for blocks in MEMORY_SIZES)
    print(
        f"  peak RSS: {MEMORY_SIZES[0]:,} blocks {small / 2**20:.0f} MiB, "
        f"{MEMORY_SIZES[1]:,} blocks {large / 2**20:.0f} MiB"
    )
    return [
        Row(
            "4a stub run, 100,000 blocks",
            f"{rate:,.0f} blocks/s",
            f"write_chunks alone, 1 thread: {BLOCKS / median(floor):,.0f} blocks/s",
            f"{median(floor) / median(ours):.2f}x its speed",
            f">= {TARGET_RATE:,} blocks/s",
            rate >= TARGET_RATE,
        ),
        Row(
            "4b stub peak RSS",
            f"{large / 2**20:.0f} MiB at 200,000 blocks",
            f"{small / 2**20:.0f} MiB at 20,000 blocks",
            f"{large / small:.2f}x",
            f"<= {TARGET_MEMORY}x",
            large / small <= TARGET_MEMORY,
        ),
    ]
