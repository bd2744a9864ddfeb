"""Row 3: `cryo-ingest validate` over 10,000 job blocks in 200 files, against PyYAML loading them; and over one
big file (44,000 job blocks in 20 MB, and the issue's shape of 110,000 small ones), against libyaml composing it."""

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
BIG_JOBS = 44_000
SMALL_JOBS = 110_000
#: "A 20 MB file in a few seconds": at most this many.
BIG_SECONDS = 4.0
#: With the collector off, as validate runs: on, it sweeps the growing node tree again and again (27 s, not 6).
COMPOSE_ONLY = "import gc, sys, yaml\ngc.disable()\nyaml.compose(open(sys.argv[1]).read(), Loader=yaml.CSafeLoader)\n"


def _jobs(prefix: str, count: int) -> list[dict[str, object]]:
    """`count` distinct, valid job blocks."""
    jobs = []
    for j in range(count):
        config = {
            "chain_id": 2 + j % JOBS_PER_FILE,
            "datasets": ["blocks", "transactions", "logs", "traces"][: 1 + j % 4],
            "rpc_pool": f"pool-{j % 7}",
            "start_block": j * 1000,
            "end_block": j * 1000 + 99_999,
            "partition_size": 10_000,
            "chunk_size": 1000,
            "compression": ["lz4", "zstd:3"][j % 2],
        }
        jobs.append(job_block(f"job_{prefix}{j}", config, 20))
    return jobs


def write_dags(folder: Path) -> int:
    """200 DAG files of 50 distinct, valid job blocks each; returns the number of job blocks."""
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(FILES):
        text = yaml.safe_dump({"name": f"dag_{f}", "jobs": _jobs(f"{f}_", JOBS_PER_FILE)}, sort_keys=False)
        (folder / f"dag_{f:03d}.yaml").write_text(text)
    return FILES * JOBS_PER_FILE


def measure(work: Path, quick: bool) -> list[Row]:
    return [_many_files(work, quick), *_one_big_file(work)]


def _many_files(work: Path, quick: bool) -> Row:
    folder = work / "dags"
    jobs = write_dags(folder)
    ours, floor = alternate(
        lambda: run(cli("validate", folder)).seconds,
        lambda: run([sys.executable, "-c", LOAD_ONLY, str(folder)]).seconds,
        2 if quick else 3,
    )
    print(f"  validate: {spread(ours)}; PyYAML load only: {spread(floor)}")
    rate = jobs / median(ours)
    return Row(
        "3 validate 10,000 jobs / 200 files",
        f"{rate:,.0f} jobs/s",
        f"PyYAML load: {jobs / median(floor):,.0f} jobs/s",
        f"{median(ours) / median(floor):.2f}x its time",
        f">= {TARGET:,} jobs/s",
        rate >= TARGET,
    )


def _small_jobs(count: int) -> str:
    """A DAG of `count` small job blocks (about 190 bytes each), written as people write them."""
    lines = ["name: small", "jobs:"]
    for j in range(count):
        lines += [
            f"  - name: job_{j}",
            "    operator: cryo_ingest",
            "    activation: reactive",
            "    config:",
            f"      chain_id: {1 + j % 9}",
            "      datasets: [blocks]",
            f"      rpc_pool: pool-{j % 7}",
            f"      start_block: {j * 100}",
            f"      end_block: {j * 100 + 99}",
        ]
    return "\n".join(lines) + "\n"


def _one_big_file(work: Path) -> list[Row]:
    """Two pairs for each file whatever `--quick`: one is a few seconds."""
    shapes = [
        (
            "3b",
            f"{BIG_JOBS:,} job blocks",
            yaml.safe_dump({"name": "big", "jobs": _jobs("", BIG_JOBS)}, sort_keys=False),
        ),
        ("3c", f"{SMALL_JOBS:,} small job blocks", _small_jobs(SMALL_JOBS)),
    ]
    return [_big_file_row(work / f"big_{row}.yaml", row, jobs, text) for row, jobs, text in shapes]


def _big_file_row(big: Path, row: str, jobs: str, text: str) -> Row:
    big.write_text(text)
    ours, floor = alternate(
        lambda: run(cli("validate", big)).seconds,
        lambda: run([sys.executable, "-c", COMPOSE_ONLY, str(big)]).seconds,
        2,
    )
    print(f"  validate: {spread(ours)}; libyaml compose only: {spread(floor)}")
    return Row(
        f"{row} validate one {big.stat().st_size / 1e6:.0f} MB file, {jobs}",
        f"{median(ours):.1f} s",
        f"libyaml compose, 1 process: {median(floor):.1f} s",
        f"{median(ours) / median(floor):.2f}x its time",
        f"a few seconds (<= {BIG_SECONDS:.0f} s)",
        median(ours) <= BIG_SECONDS,
    )
