"""Row 8: a remote RPC, 20 ms a request: ours against `cryo.freeze` with its defaults and against ethereum-etl.

Every command reads anvil through its own `latency_proxy`, which also counts the JSON-RPC methods it
was asked (printed per command: what each costs the endpoint). Ours runs twice, with the job's defaults
and with `TUNED`, the throughput settings that put more requests in flight; ethereum-etl exports
blocks, transactions, receipts and logs, a subset of our four datasets.
"""

from __future__ import annotations

import collections
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import chain
from benchmarks.dags import DATASETS
from benchmarks.etl_row import ensure_etl, etl_script
from benchmarks.latency_proxy import proxied
from benchmarks.measure import alternate, median, run, spread
from benchmarks.overhead_row import FIRST, FREEZE, LAST, fresh, pipeline
from benchmarks.table import Row

DELAY_MS = 20
#: Beside the defaults: the whole range in one Cryo child, the shape of `cryo.freeze`'s run. On a node that
#: answers full blocks one at a time, more in flight (max_concurrency 4 with chunk_size 250) was slower.
TUNED: dict[str, Any] = {"max_concurrency": 1, "options": {"partition_size": 2000}}


def through_proxy(url: str, command: Callable[[str], float], methods: collections.Counter[str]) -> float:
    """Seconds of `command(proxy_url)` behind a fresh proxy; adds what it asked to `methods`."""
    with proxied(url, DELAY_MS) as proxy:
        seconds = command(proxy.url)
    methods.update(proxy.methods)
    return seconds


def measure(work: Path, quick: bool) -> list[Row]:
    ensure_etl()
    asked: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    with chain.loaded() as node:

        def timed(name: str, command: Callable[[str], float]) -> Callable[[], float]:
            return lambda: through_proxy(node.url, command, asked[name])

        def ours(settings: dict[str, Any]) -> Callable[[str], float]:
            return lambda url: pipeline(work, url, DATASETS, **settings)().seconds

        def freeze(url: str) -> float:
            out = str(fresh(work / "freeze"))
            return run([sys.executable, "-c", FREEZE, json.dumps(DATASETS), url, out, str(FIRST), str(LAST)]).seconds

        def etl(url: str) -> float:
            return run(["bash", "-c", etl_script(url, fresh(work / "etl"))]).seconds

        pairs = 1 if quick else 2
        ours_s, freeze_s = alternate(timed("ours", ours({})), timed("freeze", freeze), pairs)
        tuned_s, etl_s = alternate(timed("tuned", ours(TUNED)), timed("etl", etl), 1)
    for name, methods in asked.items():
        print(f"  {name}: asked {dict(methods.most_common())}")
    print(
        f"  through a {DELAY_MS} ms proxy: cryo-ingest run {spread(ours_s)}, with {TUNED} {spread(tuned_s)}; "
        f"cryo.freeze {spread(freeze_s)}; ethereum-etl (3 of the 4 datasets) {spread(etl_s)}"
    )
    best = min(median(ours_s), median(tuned_s))
    blocks = LAST - FIRST + 1
    return [
        Row(
            f"8 remote RPC ({DELAY_MS} ms a request), {blocks:,} blocks, 4 datasets, job defaults",
            f"{median(ours_s):.2f} s",
            f"cryo.freeze defaults: {median(freeze_s):.2f} s",
            f"{median(ours_s) / median(freeze_s):.2f}x its time",
            "<= 1.00x",
            median(ours_s) <= median(freeze_s),
        ),
        Row(
            f"8 remote RPC, scaling.max_concurrency {TUNED['max_concurrency']}, partition_size "
            f"{TUNED['options']['partition_size']}",
            f"{median(tuned_s):.2f} s",
            f"cryo.freeze defaults: {median(freeze_s):.2f} s",
            f"{median(tuned_s) / median(freeze_s):.2f}x its time",
            "<= 1.00x",
            median(tuned_s) <= median(freeze_s),
        ),
        Row(
            "8 remote RPC, against ethereum-etl (blocks, txs, receipts, logs)",
            f"{blocks / best:,.0f} blocks/s",
            f"ethereum-etl: {blocks / median(etl_s):,.0f} blocks/s",
            f"{median(etl_s) / best:.1f}x its speed",
            "-",
            None,
        ),
    ]
