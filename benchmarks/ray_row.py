"""Row 6: row 4's stub job with `--executor ray` (a loopback cluster started for each run) beside the local executor."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from benchmarks.dags import write_dag
from benchmarks.measure import Run, alternate, cli, in_run_seconds, local_env, median, run
from benchmarks.stub_row import BLOCKS, PARTITION
from benchmarks.table import Row

PARTITIONS = BLOCKS // PARTITION


def run_job(work: Path, executor: str) -> Run:
    """`cryo-ingest run` of row 4's job on `executor`, into a fresh local store."""
    dag = write_dag(work / "ray-row.yaml", 0, BLOCKS - 1, PARTITION)
    store = work / "store"
    shutil.rmtree(store, ignore_errors=True)
    # Ray's socket paths live under its temporary directory and must fit in 108 bytes: a short one.
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")
    try:
        env = local_env(work, RAY_TMPDIR=ray_tmp, RAY_USAGE_STATS_ENABLED="0")
        return run(cli("run", dag, "--job", "bench", "--store", store, "--executor", executor), env)
    finally:
        shutil.rmtree(store, ignore_errors=True)
        shutil.rmtree(ray_tmp, ignore_errors=True)


def measure(work: Path, quick: bool) -> list[Row]:
    runs: dict[str, list[Run]] = {"ray": [], "local": []}

    def timed(executor: str) -> float:
        done = run_job(work, executor)
        runs[executor].append(done)
        return done.seconds

    alternate(lambda: timed("ray"), lambda: timed("local"), 2 if quick else 3)
    wall = {name: median([r.seconds for r in done]) for name, done in runs.items()}
    inside = {name: median([in_run_seconds(r) for r in done]) for name, done in runs.items()}
    # What the engine adds once a run: starting, connecting to and stopping the cluster.
    fixed = (wall["ray"] - inside["ray"]) - (wall["local"] - inside["local"])
    print(
        f"  wall: ray {wall['ray']:.2f} s, local {wall['local']:.2f} s; "
        f"in the runner: ray {inside['ray']:.2f} s, local {inside['local']:.2f} s"
    )
    rate = {name: PARTITIONS / seconds for name, seconds in inside.items()}
    return [
        Row(
            "6 stub run --executor ray, 100,000 blocks (10 partitions)",
            f"{rate['ray']:.2f} partitions/s ({BLOCKS / inside['ray']:,.0f} blocks/s)",
            f"local executor: {rate['local']:.2f} partitions/s ({BLOCKS / inside['local']:,.0f} blocks/s)",
            f"{inside['ray'] / inside['local']:.2f}x its time",
            "-",
            None,
        ),
        Row(
            "6 Ray's fixed cost a run (cluster start and stop)",
            f"{fixed:.2f} s",
            f"local run, wall: {wall['local']:.2f} s",
            f"{wall['ray'] / wall['local']:.2f}x its wall time",
            "-",
            None,
        ),
    ]
