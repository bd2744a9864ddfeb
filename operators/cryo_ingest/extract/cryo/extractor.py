"""The `cryo` extractor: the Rust engine of the `cryo` wheel, run in a child process.

Every check of the range and the options is made in one planning step, before any IO. Then the
endpoint is asked whether it serves the job's chain, the range is not past its head, and it has the
trace methods the datasets need. The child runs `cryo.freeze` under a memory limit, killed on
cancellation or at the deadline. Cryo reports failed chunks only as a count and its Python binding
drops the cause of an error ("failed"), so the failed block ranges are named from the missing files.
The node's headers are read while Cryo runs, and Cryo's tables are checked against them (`checks.node`).
Messages carry the node's and Cryo's raw text and name the pool, never the URL; the task path redacts.
"""

from __future__ import annotations

import importlib.metadata
import threading
from dataclasses import dataclass
from pathlib import Path

from cryo_ingest.extract.base import ExtractRequest, PartialExtraction
from cryo_ingest.extract.cryo.child import run_child
from cryo_ingest.extract.cryo.collect import collect_files
from cryo_ingest.extract.cryo.headers import HeaderFetch
from cryo_ingest.extract.cryo.node import Node
from cryo_ingest.extract.cryo.options import CryoRun, cryo_runs
from cryo_ingest.extract.cryo.watch import ChunkWatch
from cryo_ingest.job.datasets import CANONICAL, status_gap
from cryo_ingest.job.endpoints import Endpoint
from cryo_ingest.publish.layout import Chunk, plan_chunks
from trace_operators.contract import Cancelled, FatalError, Partition, RetryableError, TaskContext

#: Address-space limit of the child (RLIMIT_AS): a bad request fails there, not on the worker.
MEMORY_LIMIT = 4 * 1024**3


@dataclass(frozen=True)
class Plan:
    """One extraction, its range and options checked: the endpoint, the chunks and Cryo's calls."""

    endpoint: Endpoint
    partition: Partition
    chunks: list[Chunk]
    runs: list[CryoRun]


class CryoExtractor:
    """Extracts with Cryo from the endpoint of the job's `rpc_pool`."""

    name = "cryo"

    def __init__(self, memory_limit: int = MEMORY_LIMIT) -> None:
        self.version = cryo_version()
        self.memory_limit = memory_limit
        self._nodes: dict[Endpoint, Node] = {}
        self._nodes_lock = threading.Lock()

    def node(self, endpoint: Endpoint) -> Node:
        """The one `Node` of `endpoint`, so that what it serves is asked once per process."""
        with self._nodes_lock:
            node = self._nodes.get(endpoint)
            if node is None:
                node = self._nodes[endpoint] = Node(endpoint)
            return node

    def extract(self, request: ExtractRequest, ctx: TaskContext) -> dict[str, list[Path]]:
        """Write every chunk file of every dataset, checked against the node's headers.

        `FatalError`, `RetryableError` or `Cancelled`, naming the pool.
        """
        from cryo_ingest.checks.node import check_against_node  # imported first: a missing Keccak fails before Cryo

        plan = plan_extraction(request)
        node = self.node(plan.endpoint)
        node.check_chain_id(request.chain_id)
        node.check_head(plan.partition)
        node.check_methods(request.datasets, request.start)
        ctx.checkpoint()
        request.out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        headers = HeaderFetch(node, plan.partition)  # read while Cryo runs
        watch = ChunkWatch(request.out_dir, request.chain_id, request.datasets, plan.chunks, ctx.on_chunk)
        try:
            result = run_child(plan.runs, plan.endpoint, request.out_dir, ctx, self.memory_limit, watch.look)
            try:
                files = collect_files(
                    request.out_dir, request.chain_id, request.datasets, plan.chunks, result, plan.endpoint.pool
                )
            except PartialExtraction as partial:
                if partial.whole:
                    _check_whole(partial, plan, headers, ctx)
                raise
            check_against_node(files, plan.chunks, headers.result(ctx), plan.endpoint.pool)
        finally:
            headers.stop()
        return files


def _check_whole(partial: PartialExtraction, plan: Plan, headers: HeaderFetch, ctx: TaskContext) -> None:
    """The whole datasets checked like any others before they may be published; none of them when that fails."""
    from cryo_ingest.checks.node import check_against_node

    try:
        check_against_node(partial.whole, plan.chunks, headers.result(ctx), plan.endpoint.pool)
    except Cancelled:
        raise
    except RetryableError:
        # The node failing the same blocks for the headers too: the missing chunks are still the news.
        raise PartialExtraction(str(partial), {}) from None


def cryo_version() -> str:
    """The installed cryo version, read without importing its Rust engine."""
    try:
        return importlib.metadata.version("cryo")
    except importlib.metadata.PackageNotFoundError:
        raise FatalError("the cryo extractor needs the cryo package: pip install 'cryo-ingest[cryo]'") from None


def plan_extraction(request: ExtractRequest) -> Plan:
    """Every check of the request that needs no IO; `FatalError` for the first that fails."""
    check_datasets(request.chain_id, request.datasets)
    partition = Partition(request.start, request.end)
    chunks = plan_chunks(partition, request.chunk_size)
    runs = cryo_runs(request)
    check_receipt_status(request)
    if request.endpoint is None:
        raise FatalError("the cryo extractor needs the RPC endpoint of the job's rpc_pool; none was resolved")
    return Plan(request.endpoint, partition, chunks, runs)


def check_datasets(chain_id: int, datasets: tuple[str, ...]) -> None:
    """Fatal unless the chain id is one and the datasets are distinct canonical names: each writes its own files."""
    if type(chain_id) is not int or chain_id < 1:
        raise FatalError(f"chain_id must be an integer of at least 1, not {chain_id!r}")
    unknown = [name for name in datasets if name not in CANONICAL]
    if unknown or not datasets or len(set(datasets)) < len(datasets):
        raise FatalError(f"datasets must be distinct names of {', '.join(CANONICAL)}; got {list(datasets)}")


def check_receipt_status(request: ExtractRequest) -> None:
    """Fatal for `transactions` with the `success` column where the chain's receipts have no status."""
    excluded = request.output.exclude_columns.get("transactions", ())
    since = status_gap(request.chain_id, request.start, request.datasets, excluded)
    if since is not None:
        raise FatalError(
            f"receipts of chain {request.chain_id} before block {since:,} carry no status, so Cryo fails every "
            f"transactions chunk of blocks {request.start}..{min(request.end, since - 1)} that has the success "
            "column: add exclude_columns: {transactions: [success]}"
        )
