"""Row 3: `cryo-ingest validate` over 10,000 job blocks in 200 files, against PyYAML loading them."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from benchmarks.dags import job_block
from benchmarks.measure import alternate, cli, median, run, spread
from benchmarks.table import Row

FILES = 200
JOBS_PER_FILE = 50
TARGET = 5_000
#: The floor: parse the same files with PyYAML's fastest safe loader, in a fresh process too.
LOAD_ONLY = (
    "import sys, pathlib, yaml\n"
    "loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)\n"
    "for path in sorted(pathlib.Path(sys.argv[1]).glob('*.yaml')):\n"
    "    yaml.load(path.read_bytes(), Loader=loader)\n"
)


def write_dags(folder: Path) -> int:
    """200 DAG files of 50 distinct, valid job blocks each; returns the number of job blocks."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(FILES):
        jobs = []
        for j in range(JOBS_PER_FILE):
            config = {
                "chain_id": 2 + j,
                "datasets": ["blocks", "transactions", "logs", "traces"][: 1 + j % 4],
                "rpc_pool": f"pool-{j % 7}",
                "start_block": j * 1000,
                "end_block": j * 1000 + 99_999,
                "partition_size": 10_000,
                "chunk_size": 1000,
                "compression": ["lz4", "zstd:3"][j % 2],
            }
            jobs.append(job_block(f"job_{f}_{j}", config, 20))
        text = yaml.safe_dump({"name": f"dag_{f}", "jobs": jobs}, sort_keys=False)
        (folder / f"dag_{f:03d}.yaml").write_text(text)
    return FILES * JOBS_PER_FILE


def measure(work: Path, quick: bool) -> list[Row]:
    folder = work / "dags"
    jobs = write_dags(folder)
    ours, floor = alternate(
        lambda: run(cli("validate", folder)).seconds,
        lambda: run([sys.executable, "-c", LOAD_ONLY, str(folder)]).seconds,
        2 if quick else 3,
    )
    print(f"  validate: {spread(ours)}; PyYAML load only: {spread(floor)}")
    rate = jobs / median(ours)
    return [
        Row(
            "3 validate 10,000 jobs / 200 files",
            f"{rate:,.0f} jobs/s",
            f"PyYAML load: {jobs / median(floor):,.0f} jobs/s",
            f"{median(ours) / median(floor):.2f}x its time",
            f">= {TARGET:,} jobs/s",
            rate >= TARGET,
        )
    ]
