"""Row 1: `cryo-ingest run --extractor cryo` against plain `cryo.freeze` of the same blocks and chunks.

Both run as fresh processes against the same anvil, alternating, on the benchmark chain's 2,000
blocks of 20 transactions in partitions of 1,000 blocks. The fixed costs (process start and imports,
the DAG, each partition's Cryo child and its checks of the node) are timed on their own afterwards,
to say where the difference goes, and so is the check step before commit, on the files the last run
published: the node's headers (read while Cryo runs, in the pipeline) and the checks of the tables
after it, each summed over the partitions, as a share of the pipeline's time.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import chain
from benchmarks.dags import CHAIN_ID, DATASETS, write_dag
from benchmarks.measure import Run, alternate, cli, in_run_seconds, local_env, median, run, spread
from benchmarks.table import Row

FIRST, LAST = 1, chain.BLOCKS
PARTITION = 1_000
TARGET = 1.05
#: A user's `cryo.freeze` of the range with its defaults, given datasets, url, out, first, last (and more) as arguments.
FREEZE_CALL = (
    "import json, os, sys, cryo\n"
    "datasets, url, out, first, last = json.loads(sys.argv[1]), *sys.argv[2:4], int(sys.argv[4]), int(sys.argv[5])\n"
    "counts = cryo.freeze(datasets, blocks=[f'{first}:{last + 1}'], rpc=url, output_dir=out, chunk_size=1000,\n"
    "                     network_name='10143', verbose=False, no_report=True)\n"
    "assert counts['n_errored'] == 0, counts\n"
)
#: os._exit: Cryo's leftover threads can abort the interpreter at finalization after a good run.
EXIT = "os._exit(0)\n"
FREEZE = FREEZE_CALL + EXIT


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


#: Numbers the DAG files of a row's pipelines, which differ in their settings.
_dags = itertools.count()


def pipeline(
    work: Path,
    url: str,
    datasets: list[str],
    max_concurrency: int = 2,
    options: dict[str, Any] | None = None,
    store: Callable[[], str | Path] | None = None,
    env: dict[str, str] | None = None,
) -> Callable[[], Run]:
    """A timed `cryo-ingest run --extractor cryo` of the range with config `options`, into `store()`.

    `store` gives an empty store each run (default: a fresh local directory); `env` adds to the environment.
    """
    dag = write_dag(
        work / f"cryo-{next(_dags)}.yaml",
        FIRST,
        LAST,
        PARTITION,
        datasets=datasets,
        max_concurrency=max_concurrency,
        options=options,
    )

    def once() -> Run:
        where = store() if store else fresh(work / "store")
        return run(
            cli("run", dag, "--job", "bench", "--store", where, "--extractor", "cryo"),
            local_env(work, TRACE_RPC_POOL_BENCH_URL=url, **(env or {})),
        )

    return once


def freeze(work: Path, url: str, datasets: list[str]) -> Callable[[], Run]:
    """A timed `cryo.freeze` of the range in a fresh Python process."""

    def once() -> Run:
        out = fresh(work / "freeze")
        return run([sys.executable, "-c", FREEZE, json.dumps(datasets), url, str(out), str(FIRST), str(LAST)])

    return once


def freeze_beside_headers(work: Path, url: str, datasets: list[str]) -> Callable[[], float]:
    """A timed `cryo.freeze` of the range while this process reads the node's headers of each partition, as the
    pipeline's checks do (one thread a partition, `max_concurrency: 2`): what those reads cost the node."""
    from cryo_ingest.extract.cryo.headers import fetch_headers
    from cryo_ingest.extract.cryo.node import Node
    from cryo_ingest.job.endpoints import Endpoint
    from trace_operators.contract import Partition

    run_freeze = freeze(work, url, datasets)

    def once() -> float:
        began = time.perf_counter()
        readers = [
            threading.Thread(target=fetch_headers, args=(Node(Endpoint("bench", url)), partition, threading.Event()))
            for partition in Partition(FIRST, LAST).split(PARTITION)
        ]
        for reader in readers:
            reader.start()
        run_freeze()
        for reader in readers:
            reader.join()
        return time.perf_counter() - began

    return once


def fixed_costs(work: Path, url: str) -> str:
    """What a run pays whatever the range: process start and DAG, a Cryo child's start, the node checks."""
    dag = write_dag(work / "plan.yaml", FIRST, LAST, PARTITION)
    start = median([run(cli("plan", dag, "--job", "bench"), local_env(work)).seconds for _ in range(3)])
    child = median([_child_start(url) for _ in range(3)])
    began = time.perf_counter()
    for method in ("eth_chainId", "eth_blockNumber"):
        chain.rpc(url, method)
    chain.rpc(url, "trace_block", hex(FIRST))
    checks = time.perf_counter() - began
    return (
        f"process start + imports + DAG (cryo-ingest plan): {start:.2f} s; per partition: Cryo child start "
        f"{child:.2f} s, node checks {checks * 1000:.0f} ms"
    )


def check_step(store: Path, url: str) -> tuple[float, float]:
    """Seconds reading the node's headers and checking the tables, summed over the partitions the store holds."""
    from cryo_ingest.checks.node import check_against_node
    from cryo_ingest.checks.tables import check_tables
    from cryo_ingest.extract.cryo.headers import fetch_headers
    from cryo_ingest.extract.cryo.node import Node
    from cryo_ingest.job.endpoints import Endpoint
    from cryo_ingest.publish.layout import plan_chunks
    from trace_operators.contract import Partition

    reading = checking = 0.0
    for partition in Partition(FIRST, LAST).split(PARTITION):
        prefix = f"cryo/{CHAIN_ID}/{{}}/{partition.start}_{partition.end}/*/*.parquet"
        files = {dataset: sorted(store.glob(prefix.format(dataset))) for dataset in DATASETS}
        chunks = plan_chunks(partition, 1000)
        began = time.perf_counter()
        headers = fetch_headers(Node(Endpoint("bench", url)), partition, threading.Event())
        reading += time.perf_counter() - began
        began = time.perf_counter()
        check_against_node(files, chunks, headers, "bench")
        check_tables(files, CHAIN_ID, chunks, "bench")
        checking += time.perf_counter() - began
    return reading, checking


def _child_start(url: str) -> float:
    """Wall time of the extractor's Cryo child given nothing to extract: start, imports, exit."""
    request = json.dumps({"memory_limit": 4 * 1024**3, "runs": []}).encode()
    env = {**os.environ, "CRYO_INGEST_RPC_URL": url, "CRYO_INGEST_PARENT_PID": str(os.getpid())}
    return run([sys.executable, "-m", "cryo_ingest.extract.cryo.child_main"], env, stdin=request).seconds


def measure(work: Path, quick: bool) -> list[Row]:
    with chain.loaded() as node:
        run_ours, run_freeze = pipeline(work, node.url, DATASETS), freeze(work, node.url, DATASETS)
        ours_runs: list[Run] = []

        def ours() -> float:
            ours_runs.append(run_ours())
            return ours_runs[-1].seconds

        ours_s, theirs_s = alternate(ours, lambda: run_freeze().seconds, 3 if quick else 5)
        inside = median([in_run_seconds(r) for r in ours_runs])
        print(f"  cryo-ingest run: {spread(ours_s)} ({inside:.2f} s in the runner); cryo.freeze: {spread(theirs_s)}")
        beside, alone = alternate(
            freeze_beside_headers(work, node.url, DATASETS), lambda: run_freeze().seconds, 2 if quick else 3
        )
        print(f"  cryo.freeze with our header reads beside it: {spread(beside)}; alone: {spread(alone)}")
        serial = pipeline(work, node.url, DATASETS, max_concurrency=1)().seconds
        print(f"  one partition at a time (max_concurrency 1): {serial:.2f} s")
        print(f"  fixed costs: {fixed_costs(work, node.url)}")
        reading, checking = check_step(work / "store", node.url)
    share = checking / median(ours_s)
    print(
        f"  checks before commit: {checking:.2f} s after Cryo ({share:.1%} of the pipeline's time); "
        f"the node's headers {reading:.2f} s, read while Cryo runs ({(reading + checking) / median(ours_s):.1%} "
        "with them)"
    )
    ratio = median(ours_s) / median(theirs_s)
    blocks = LAST - FIRST + 1
    node_share = median(beside) / median(alone)
    return [
        Row(
            f"1 cryo-ingest run --extractor cryo, {blocks:,} blocks x 20 txs, 4 datasets",
            f"{median(ours_s):.2f} s (checks {share:.1%})",
            f"cryo.freeze: {median(theirs_s):.2f} s",
            f"{ratio:.2f}x its time",
            f"<= {TARGET}x",
            ratio <= TARGET,
        ),
        Row(
            "1b what the header checks cost the node: cryo.freeze with them read beside it",
            f"{median(beside):.2f} s",
            f"cryo.freeze alone: {median(alone):.2f} s",
            f"{node_share:.2f}x its time",
            "-",
            None,
        ),
    ]
