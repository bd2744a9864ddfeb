"""Row 9: what the node itself can answer, for the calls Cryo makes, against our pipeline on the same node.

Counted through the latency proxy, Cryo 0.3.2 asks per block `eth_getBlockByNumber` with full
transactions (blocks and transactions), `eth_getBlockReceipts` (transactions), `eth_getLogs` of one
block (logs) and `trace_block` (traces). The ceiling is a plain client making those calls from
threads with one kept-alive connection each, reading the answers without decoding them, at the best
concurrency of a sweep over 1..64; its blocks/s over the whole range is the figure ours is a fraction of.
"""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from pathlib import Path

from benchmarks import chain
from benchmarks.dags import DATASETS
from benchmarks.measure import Run, alternate, in_run_seconds, median, recorded, spread
from benchmarks.overhead_row import FIRST, LAST, pipeline
from benchmarks.table import Row

CONCURRENCY = (1, 2, 4, 8, 16, 32, 64)
#: Every twentieth block: the sweep's sample, spread over the chain (the node answers some 50-150 blocks/s here).
SAMPLE = range(FIRST, LAST + 1, 20)


def calls(number: int) -> list[bytes]:
    """The JSON-RPC bodies Cryo sends for block `number` and the four datasets."""
    block = f'"{hex(number)}"'
    return [
        f'{{"jsonrpc":"2.0","id":1,"method":"eth_getBlockByNumber","params":[{block},true]}}'.encode(),
        f'{{"jsonrpc":"2.0","id":2,"method":"eth_getBlockReceipts","params":[{block}]}}'.encode(),
        f'{{"jsonrpc":"2.0","id":3,"method":"eth_getLogs","params":[{{"fromBlock":{block},"toBlock":{block}}}]}}'.encode(),
        f'{{"jsonrpc":"2.0","id":4,"method":"trace_block","params":[{block}]}}'.encode(),
    ]


def fetch_all(url: str, blocks: range, concurrency: int) -> float:
    """Seconds for `concurrency` threads to get every call of `blocks`; RuntimeError on any error answer."""
    target = urllib.parse.urlsplit(url)
    # Built before the clock starts; next() on a list iterator is atomic under the GIL, so threads share it.
    work = iter([body for number in blocks for body in calls(number)])
    failures: list[str] = []

    def worker() -> None:
        connection = http.client.HTTPConnection(target.netloc, timeout=120)
        headers = {"Content-Type": "application/json"}
        for body in work:
            connection.request("POST", "/", body, headers)
            answer = connection.getresponse().read()
            if b'"result"' not in answer[:40]:  # an error answer names "error" where a result would be
                failures.append(answer[:200].decode(errors="replace"))
                return
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    if failures:
        raise RuntimeError(f"the node answered an error: {failures[0]}")
    return seconds


def best_concurrency(url: str) -> int:
    """The sweep's fastest concurrency on the sample, each rate printed."""
    rates = {n: len(SAMPLE) / fetch_all(url, SAMPLE, n) for n in CONCURRENCY}
    print("  plain client, blocks/s by concurrency: " + ", ".join(f"{n}: {r:,.0f}" for n, r in rates.items()))
    return max(rates, key=lambda n: rates[n])


def measure(work: Path, quick: bool) -> list[Row]:
    blocks = range(FIRST, LAST + 1)
    with chain.loaded() as node:
        best = best_concurrency(node.url)
        runs: list[Run] = []
        ours = recorded(pipeline(work, node.url, DATASETS), runs)
        ours_s, ceiling_s = alternate(ours, lambda: fetch_all(node.url, blocks, best), 1 if quick else 2)
    inside = [in_run_seconds(r) for r in runs]
    rate, ceiling = len(blocks) / median(ours_s), len(blocks) / median(ceiling_s)
    print(
        f"  cryo-ingest run: {spread(ours_s)} ({len(blocks) / median(inside):,.0f} blocks/s in the runner); "
        f"plain client at concurrency {best}: {spread(ceiling_s)}"
    )
    return [
        Row(
            f"9 node ceiling, {len(blocks):,} blocks, Cryo's 4 calls a block",
            f"{rate:,.0f} blocks/s",
            f"plain client, {best} threads: {ceiling:,.0f} blocks/s",
            f"{rate / ceiling:.0%} of it",
            "-",
            None,
        )
    ]
