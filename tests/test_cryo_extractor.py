"""The `cryo` extractor against a real anvil node and the real cryo wheel."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cryo_ingest.extract.base import ExtractRequest
from cryo_ingest.extract.cryo.child import child_result
from cryo_ingest.extract.cryo.child_main import ORPHANED, PARENT_VARIABLE, URL_VARIABLE
from cryo_ingest.extract.cryo.extractor import CryoExtractor
from cryo_ingest.extract.cryo.node import Node as NodeChecks
from cryo_ingest.extract.cryo.options import cryo_runs
from cryo_ingest.job.datasets import ALIASES, CANONICAL, canonical
from cryo_ingest.job.endpoints import Endpoint
from cryo_ingest.job.options import Compression, OutputOptions, Throughput
from trace_operators.contract import Cancelled, FatalError, Partition, RetryableError, TaskContext

from tests.anvil import CHAIN_ID, Node, RpcProxy, free_port
from tests.chain import rpc
from tests.freeze import freeze_directly

POOL = "testpool"
FOUR = ("blocks", "transactions", "logs", "traces")
#: Not a divisor of the 91 blocks of the test chain: the last file is short.
CHUNK = 25
SECRET_PATH = "/v2/PATHKEY123?apikey=QUERYKEY456"
Files = dict[str, list[Path]]


def context(tmp_path: Path, **fields: Any) -> TaskContext:
    # The extractor never touches the store.
    return TaskContext(
        task_id="t1",
        attempt=1,
        store=None,
        staging_root=tmp_path,  # type: ignore[arg-type]
        logger=logging.getLogger("test"),
        **fields,
    )


def request(
    url: str,
    out_dir: Path,
    datasets: tuple[str, ...],
    start: int,
    end: int,
    chunk_size: int = CHUNK,
    chain_id: int = CHAIN_ID,
    output: OutputOptions = OutputOptions(),
    throughput: Throughput = Throughput(),
) -> ExtractRequest:
    endpoint = Endpoint(POOL, url, "TEST")
    return ExtractRequest(chain_id, datasets, start, end, chunk_size, output, throughput, out_dir, endpoint)


def extract(tmp_path: Path, url: str, datasets: tuple[str, ...], start: int, end: int, **options: Any) -> Files:
    return CryoExtractor().extract(request(url, tmp_path / "out", datasets, start, end, **options), context(tmp_path))


def table(paths: list[Path]) -> pa.Table:
    return pa.concat_tables(pq.read_table(path) for path in paths)


def hexes(column: pa.ChunkedArray) -> list[str]:
    return ["0x" + value.hex() for value in column.to_pylist()]


def node_blocks(url: str, last: int, full: bool = False) -> list[dict[str, Any]]:
    return [rpc(url, "eth_getBlockByNumber", hex(n), full) for n in range(last + 1)]


@pytest.fixture(scope="module")
def four(anvil: Node, tmp_path_factory: pytest.TempPathFactory) -> Files:
    """blocks, transactions, logs and traces of the whole chain, in chunks of 25."""
    return extract(tmp_path_factory.mktemp("four"), anvil.url, FOUR, 0, anvil.head)


# --- what it writes ---


def test_four_datasets_equal_what_cryo_writes(anvil: Node, four: Files, tmp_path: Path) -> None:
    counts = freeze_directly(
        anvil.url, list(FOUR), tmp_path, blocks=[f"0:{anvil.head + 1}"], chunk_size=CHUNK, network_name=str(CHAIN_ID)
    )
    assert counts["n_errored"] == 0
    assert list(four) == list(FOUR)
    for dataset, paths in four.items():
        chunks = [(first, min(first + CHUNK - 1, anvil.head)) for first in range(0, anvil.head + 1, CHUNK)]
        assert [p.name for p in paths] == [f"{CHAIN_ID}__{dataset}__{a:08d}_to_{b:08d}.parquet" for a, b in chunks]
        for path in paths:
            ours, theirs = pq.read_table(path), pq.read_table(tmp_path / path.name)
            assert ours.schema == theirs.schema
            assert ours.equals(theirs)
            assert path.read_bytes() == (tmp_path / path.name).read_bytes()
    written = sorted(p.name for p in tmp_path.glob("*.parquet"))
    assert written == sorted(p.name for paths in four.values() for p in paths)


def test_rows_agree_with_the_node(anvil: Node, four: Files) -> None:
    assert anvil.chain is not None
    blocks = table(four["blocks"]).sort_by("block_number")
    assert blocks["block_number"].to_pylist() == list(range(anvil.head + 1))
    from_node = node_blocks(anvil.url, anvil.head)
    assert hexes(blocks["block_hash"]) == [block["hash"] for block in from_node]

    txs = table(four["transactions"]).sort_by([("block_number", "ascending"), ("transaction_index", "ascending")])
    tx_hashes = hexes(txs["transaction_hash"])
    assert tx_hashes == [h for block in from_node for h in block["transactions"]]
    assert tx_hashes == [h for n in sorted(anvil.chain.tx_hashes) for h in anvil.chain.tx_hashes[n]]
    assert {h for h, ok in zip(tx_hashes, txs["success"].to_pylist()) if not ok} == set(anvil.chain.reverted)
    assert set(txs["transaction_type"].to_pylist()) == {0, 1, 2}

    logs = table(four["logs"])
    ours = zip(logs["block_number"].to_pylist(), logs["log_index"].to_pylist(), hexes(logs["transaction_hash"]))
    node_logs = rpc(anvil.url, "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(anvil.head)})
    theirs = ((int(log["blockNumber"], 16), int(log["logIndex"], 16), log["transactionHash"]) for log in node_logs)
    assert sorted(ours) == sorted(theirs)

    traces = table(four["traces"])
    assert traces.num_rows == sum(len(rpc(anvil.url, "trace_block", hex(n))) for n in range(anvil.head + 1))
    assert sorted(set(traces["action_type"].to_pylist())) == ["call", "create"]


def test_every_canonical_dataset_extracts_rows(anvil: Node, tmp_path: Path) -> None:
    files = extract(tmp_path, anvil.url, CANONICAL, 0, anvil.head, chunk_size=100)
    assert list(files) == list(CANONICAL)
    assert [len(paths) for paths in files.values()] == [1] * len(CANONICAL)
    rows = {dataset: pq.read_metadata(paths[0]).num_rows for dataset, paths in files.items()}
    assert {dataset: n for dataset, n in rows.items() if n == 0} == {}
    assert rows["blocks"] == anvil.head + 1


def test_dataset_names() -> None:
    assert CANONICAL[:4] == FOUR
    assert canonical("txs") == "transactions" and canonical("events") == "logs" and canonical("blocks") == "blocks"
    assert canonical("slot_diffs") == "storage_diffs" and canonical("opcode_traces") == "vm_traces"
    for name in ("state_diffs", "geth_state_diffs", "blocks_and_transactions", "balances", "javascript_traces", "x"):
        assert canonical(name) is None
    assert set(ALIASES.values()) <= set(CANONICAL)


# --- options ---


def test_output_options_reach_cryo_per_dataset(anvil: Node, four: Files, tmp_path: Path) -> None:
    output = OutputOptions(
        include_columns={"blocks": ("parent_hash",)},
        exclude_columns={"transactions": ("success",), "logs": ("chain_id",)},
        u256_types=("string", "f64"),
        hex=True,
        compression=Compression("zstd", 3),
        row_group_size=4,
    )
    files = extract(tmp_path, anvil.url, ("blocks", "transactions", "logs"), 0, 29, chunk_size=10, output=output)
    blocks, txs, logs = (table(files[d]) for d in ("blocks", "transactions", "logs"))
    default = {d: set(pq.read_schema(four[d][0]).names) for d in ("blocks", "transactions", "logs")}
    # Columns, each dataset its own: Cryo would apply one dataset's lists to all of them.
    assert set(blocks.column_names) == default["blocks"] | {"parent_hash"}
    u256_columns = {"value_string", "value_f64"}
    assert set(txs.column_names) == default["transactions"] - {"success", "value_binary"} | u256_columns
    assert set(logs.column_names) == default["logs"] - {"chain_id"}
    # hex: binary columns become 0x strings.
    assert pq.read_schema(four["blocks"][0]).field("block_hash").type == pa.large_binary()
    assert blocks.schema.field("block_hash").type == pa.large_string()
    from_node = node_blocks(anvil.url, 29, full=True)
    assert blocks.sort_by("block_number")["block_hash"].to_pylist() == [block["hash"] for block in from_node]
    # u256_types: the value as a decimal string and a float, not as bytes.
    sent = {tx["hash"]: str(int(tx["value"], 16)) for block in from_node for tx in block["transactions"]}
    assert dict(zip(txs["transaction_hash"].to_pylist(), txs["value_string"].to_pylist())) == sent
    for path in (p for paths in files.values() for p in paths):
        metadata = pq.read_metadata(path)
        groups = [metadata.row_group(g) for g in range(metadata.num_row_groups)]
        assert {group.column(c).compression for group in groups for c in range(metadata.num_columns)} == {"ZSTD"}
        # Polars cuts rows // row_group_size groups and gives the remainder to the last.
        assert metadata.num_row_groups == max(1, metadata.num_rows // 4)


def test_throughput_options_reach_cryo_and_change_no_byte(
    rpc_proxy: RpcProxy, anvil: Node, four: Files, tmp_path: Path
) -> None:
    throughput = Throughput(
        requests_per_second=1000,
        max_concurrent_requests=2,
        max_concurrent_chunks=1,
        max_retries=1,
        initial_backoff_ms=10,
        inner_request_size=5,
    )
    files = extract(tmp_path, rpc_proxy.url(), ("blocks", "logs"), 0, anvil.head, throughput=throughput)
    for dataset in ("blocks", "logs"):
        assert [p.read_bytes() for p in files[dataset]] == [p.read_bytes() for p in four[dataset]]
    assert rpc_proxy.calls["eth_getLogs"] == 5 + 5 + 5 + 4  # chunks of 25, 25, 25 and 16 blocks, 5 blocks a call


def test_compression_argument() -> None:
    assert Compression("zstd", 3).cryo_arg() == ["zstd", "3"]
    assert Compression("zstd").cryo_arg() == ["zstd", "3"]  # Cryo refuses zstd without a level
    assert Compression("gzip").cryo_arg() == ["gzip", "6"]
    assert Compression("lz4").cryo_arg() == ["lz4"]
    assert Compression("uncompressed").cryo_arg() == ["uncompressed"]


NAMES = ", ".join(CANONICAL)
NOT_A_RANGE = "are not a range: start and end are integers with 0 <= start <= end (end is inclusive)"
#: Cryo's error of a chunk whose block came back as an HTTP 503 with no body (its verbose summary).
CRYO_ON_EMPTY_503 = (
    "Cryo's errors: Failed to get block: Deserialization Error: EOF while parsing a value at line 1 column 0. "
    "Response: (1x)"
)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("start", 5, f"blocks 5..4 {NOT_A_RANGE}"),
        ("start", -1, f"blocks -1..4 {NOT_A_RANGE}"),
        ("start", True, f"blocks True..4 {NOT_A_RANGE}"),
        ("chunk_size", 0, "chunk_size must be an integer of at least 1, not 0"),
        (
            "end",
            6_400,  # 257 files of 25 blocks: one past the bound validation holds jobs to
            "blocks 0..6400: 6,401 blocks in chunks of 25 make 257 Parquet files per dataset; at most 256 are "
            "allowed: split the range into partitions of at most 6,400 blocks, or raise chunk_size to at least 26",
        ),
        ("u256_types", ("u32",), "u256_types must be a non-empty list of binary, string, f32, f64; got ['u32']"),
        ("row_group_size", 0, "row_group_size must be an integer of at least 1, not 0"),
        ("max_concurrent_requests", 0, "max_concurrent_requests must be an integer of at least 1, not 0"),
        (
            "datasets",
            ("blocks", "state_diffs"),
            f"datasets must be distinct names of {NAMES}; got ['blocks', 'state_diffs']",
        ),
        ("datasets", ("txs",), f"datasets must be distinct names of {NAMES}; got ['txs']"),
    ],
)
def test_bad_ranges_and_options_are_fatal_before_any_call(
    rpc_proxy: RpcProxy, tmp_path: Path, field: str, value: Any, message: str
) -> None:
    bounds: dict[str, Any] = {"start": 0, "end": 4, "chunk_size": CHUNK}
    output, throughput, datasets = OutputOptions(), Throughput(), ("blocks",)
    if field == "datasets":
        datasets = value
    elif field in bounds:
        bounds[field] = value
    elif field == "max_concurrent_requests":
        throughput = Throughput(max_concurrent_requests=value)
    else:
        output = OutputOptions(**{field: value})
    req = request(
        rpc_proxy.url(),
        tmp_path / "out",
        datasets,
        bounds["start"],
        bounds["end"],
        bounds["chunk_size"],
        output=output,
        throughput=throughput,
    )
    with pytest.raises(FatalError) as raised:
        CryoExtractor().extract(req, context(tmp_path))
    assert str(raised.value) == message
    assert not rpc_proxy.calls


# --- the endpoint ---


def test_the_endpoint_secrets_reach_the_node_and_messages_name_only_the_pool(
    rpc_proxy: RpcProxy, tmp_path: Path
) -> None:
    url = rpc_proxy.url("alice:pw-s3cret", SECRET_PATH)
    files = extract(tmp_path, url, ("blocks",), 0, 9, chunk_size=5)
    assert [pq.read_metadata(p).num_rows for p in files["blocks"]] == [5, 5]
    basic = base64.b64encode(b"alice:pw-s3cret").decode()
    assert rpc_proxy.seen == {(SECRET_PATH, f"Basic {basic}")}  # from our checks and from Cryo alike

    rpc_proxy.fail_blocks = {3}
    with pytest.raises(RetryableError) as failed_chunk:
        extract(tmp_path / "again", url, ("blocks",), 0, 9, chunk_size=5)
    assert str(failed_chunk.value) == (
        f"Cryo failed 1 chunk(s) reading pool {POOL}; missing: blocks 0..4 (blocks); {CRYO_ON_EMPTY_503}"
    )

    closed = f"http://alice:pw-s3cret@127.0.0.1:{free_port()}{SECRET_PATH}"
    with pytest.raises(RetryableError) as unreachable:
        extract(tmp_path / "closed", closed, ("blocks",), 0, 9)
    assert str(unreachable.value) == f"pool {POOL} did not answer eth_chainId: [Errno 111] Connection refused"

    # Cryo's own words are kept raw: the task path redacts them with the job's secrets.
    stderr = f"Traceback (most recent call last):\n  File x\nError: sending request for url ({url}): Basic {basic}\n"
    with pytest.raises(RetryableError) as crashed:
        child_result(1, "", stderr, POOL)
    assert (
        str(crashed.value)
        == f"Cryo, reading pool {POOL}, exited with 1: Error: sending request for url ({url}): Basic {basic}"
    )


def test_no_endpoint_is_fatal_before_any_call(tmp_path: Path) -> None:
    req = ExtractRequest(CHAIN_ID, ("blocks",), 0, 9, CHUNK, OutputOptions(), Throughput(), tmp_path / "out")
    with pytest.raises(FatalError) as raised:
        CryoExtractor().extract(req, context(tmp_path))
    assert str(raised.value) == "the cryo extractor needs the RPC endpoint of the job's rpc_pool; none was resolved"
    assert not (tmp_path / "out").exists()


def test_what_the_endpoint_serves_is_asked_once_per_process(rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    extractor = CryoExtractor()
    for attempt in ("first", "second"):
        extractor.extract(
            request(rpc_proxy.url(), tmp_path / attempt, ("blocks", "traces"), 0, 9, 5), context(tmp_path)
        )
    # Cryo itself asks the chain id once a call, and trace_block once a block; ours are the one extra of each,
    # and the headers the checks before commit read, once a block of each extraction.
    assert dict(rpc_proxy.calls) == {
        "eth_chainId": 1 + 2,
        "eth_blockNumber": 1,
        "trace_block": 1 + 2 * 10,
        "eth_getBlockByNumber": 2 * 10 + 2 * 10,
    }


def test_the_head_is_asked_again_when_a_range_passes_it(other_anvil: Node) -> None:
    node = NodeChecks(Endpoint(POOL, other_anvil.url))
    with pytest.raises(RetryableError) as raised:
        node.check_head(Partition(0, 2))
    assert str(raised.value) == f"blocks 1..2 are past the chain head 0 of pool {POOL}"
    rpc(other_anvil.url, "evm_mine")
    rpc(other_anvil.url, "evm_mine")
    node.check_head(Partition(0, 2))


def test_a_node_of_another_chain_is_fatal(other_anvil: Node, tmp_path: Path) -> None:
    with pytest.raises(FatalError) as raised:
        extract(tmp_path, other_anvil.url, ("blocks",), 0, 0)
    assert str(raised.value) == f"pool {POOL} serves chain 31337, not chain {CHAIN_ID} of this job"


def test_an_unreachable_endpoint_is_retryable(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(RetryableError) as raised:
        extract(tmp_path, url, ("blocks",), 0, 0)
    assert str(raised.value).startswith(f"pool {POOL} did not answer eth_chainId: ")
    assert url not in str(raised.value)


def test_a_range_past_the_head_is_retryable(anvil: Node, tmp_path: Path) -> None:
    head = anvil.head
    with pytest.raises(RetryableError) as raised:
        extract(tmp_path, anvil.url, ("blocks",), head - 5, head + 5)
    assert str(raised.value) == f"blocks {head + 1}..{head + 5} are past the chain head {head} of pool {POOL}"
    assert not (tmp_path / "out").exists()


# --- the child process ---


def test_failed_chunks_are_retryable_and_named(rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    rpc_proxy.fail_blocks = {33}  # HTTP 503: Cryo retries only 429s, so the chunk fails
    with pytest.raises(RetryableError) as raised:
        extract(tmp_path, rpc_proxy.url(), ("blocks", "logs"), 0, 49, chunk_size=10)
    assert str(raised.value) == (
        f"Cryo failed 1 chunk(s) reading pool {POOL}; missing: blocks 30..39 (blocks); {CRYO_ON_EMPTY_503}"
    )


CHILD_MODULE = "cryo_ingest.extract.cryo.child_main"


def cryo_children(parent: int) -> list[int]:
    """The processes `parent` started that run the Cryo child module."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (proc / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and CHILD_MODULE.encode() in command:
            found.append(int(proc.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` still runs: a zombie, waiting for init to reap it, reads and writes nothing."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def written(out_dir: Path) -> list[tuple[str, int]]:
    """Every file under `out_dir` (Cryo's temporary ones too) and its size."""
    return sorted((str(p.relative_to(out_dir)), p.stat().st_size) for p in out_dir.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    "how, message",
    [
        ("cancel", "the task was cancelled while Cryo ran"),
        ("deadline", "the task ran past its deadline while Cryo ran"),
    ],
)
def test_cancellation_and_deadline_kill_the_child(
    rpc_proxy: RpcProxy, anvil: Node, tmp_path: Path, how: str, message: str
) -> None:
    rpc_proxy.delay = 0.05  # and one request at a time: about 5 s for the chain's blocks
    beats: list[float] = []
    ctx = context(tmp_path, heartbeat=lambda: beats.append(time.monotonic()))
    if how == "cancel":
        threading.Timer(1.0, ctx.cancel.set).start()
    else:
        ctx.deadline = time.monotonic() + 1.0
    throughput = Throughput(max_concurrent_requests=1)
    with pytest.raises(Cancelled) as raised:
        CryoExtractor().extract(
            request(rpc_proxy.url(), tmp_path / "out", ("blocks",), 0, anvil.head, throughput=throughput), ctx
        )
    assert str(raised.value) == message
    assert beats
    assert cryo_children(os.getpid()) == []
    time.sleep(0.2)  # requests already sent may still arrive
    calls = sum(rpc_proxy.calls.values())
    time.sleep(0.5)
    assert sum(rpc_proxy.calls.values()) == calls  # nothing reads the node any more


#: A worker that extracts the test chain's blocks, in its main thread or in another as the runner does.
PARENT = """
import json, logging, sys, threading
from pathlib import Path
from cryo_ingest.extract.base import ExtractRequest
from cryo_ingest.extract.cryo.extractor import CryoExtractor
from cryo_ingest.job.endpoints import Endpoint
from cryo_ingest.job.options import OutputOptions, Throughput
from trace_operators.contract import TaskContext

url, out_dir, head, in_thread = json.loads(sys.argv[1])
throughput = Throughput(max_concurrent_requests=1, max_concurrent_chunks=1)
request = ExtractRequest(10143, ("blocks",), 0, head, 5, OutputOptions(), throughput, Path(out_dir), Endpoint("p", url))
ctx = TaskContext("t", 1, None, Path(out_dir), logging.getLogger())
extract = lambda: CryoExtractor().extract(request, ctx)
if in_thread:
    worker = threading.Thread(target=extract)
    worker.start()
    worker.join()
else:
    extract()
"""


def wait_for(what: Any, limit: float = 60.0) -> Any:
    """Poll `what()` until it is true; its last value (a hang guard, not a measure of time)."""
    give_up = time.monotonic() + limit
    while not (value := what()) and time.monotonic() < give_up:
        time.sleep(0.05)
    return value


@pytest.mark.parametrize(
    "how, in_thread",
    [(signal.SIGKILL, False), (signal.SIGTERM, False), (signal.SIGKILL, True)],
    ids=["sigkill", "sigterm", "sigkill-thread"],
)
def test_the_child_dies_with_its_parent(
    rpc_proxy: RpcProxy, anvil: Node, tmp_path: Path, how: signal.Signals, in_thread: bool
) -> None:
    rpc_proxy.delay = 0.1  # and one request at a time: about 10 s for the chain's blocks
    out_dir = tmp_path / "out"
    url = rpc_proxy.url("alice:pw-s3cret", SECRET_PATH)
    arguments = json.dumps([url, str(out_dir), anvil.head, in_thread])
    with (tmp_path / "parent.log").open("wb") as log:
        parent = subprocess.Popen([sys.executable, "-c", PARENT, arguments], stdout=log, stderr=log)
    child = 0
    try:
        child = wait_for(lambda: cryo_children(parent.pid))[0]
        command = Path(f"/proc/{child}/cmdline").read_bytes()  # any local user can read it: no URL there
        assert command == b"\0".join([sys.executable.encode(), b"-m", CHILD_MODULE.encode(), b""])
        assert wait_for(lambda: list(out_dir.glob("*.parquet")))  # mid-extraction: Cryo writes chunk files

        parent.send_signal(how)
        assert parent.wait(timeout=60) == -how
        rpc_proxy.delay = 2.0  # an orphan left reading would not finish before the guard below gives up
        wait_for(lambda: not alive(child), limit=15.0)
        assert not alive(child)

        time.sleep(0.3)  # requests already sent may still arrive
        files, calls = written(out_dir), sum(rpc_proxy.calls.values())
        time.sleep(1.0)
        assert written(out_dir) == files
        assert sum(rpc_proxy.calls.values()) == calls
        assert 0 < len(files) < len(range(0, anvil.head + 1, 5))
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if child and alive(child):
            os.kill(child, signal.SIGKILL)


def test_a_child_whose_parent_is_gone_exits_before_reading_its_request(rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    runs = cryo_runs(request(rpc_proxy.url(), tmp_path, ("blocks",), 0, 9, chunk_size=10))
    job = json.dumps({"memory_limit": 4 * 1024**3, "runs": [asdict(run) for run in runs]})

    def child(parent: int) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, URL_VARIABLE: rpc_proxy.url(), PARENT_VARIABLE: str(parent)}
        command = [sys.executable, "-m", CHILD_MODULE]
        return subprocess.run(
            command, input=job, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False
        )

    # Started by this process but told of another parent: as if its own had died before it could look.
    orphan = child(1)
    assert (orphan.returncode, orphan.stdout, orphan.stderr) == (ORPHANED, "", "")
    assert not rpc_proxy.calls
    assert written(tmp_path) == []

    ours = child(os.getpid())
    assert (ours.returncode, ours.stdout) == (0, '{"n_completed": 1, "n_skipped": 0, "n_errored": 0, "errors": []}\n')
    assert [name for name, _ in written(tmp_path)] == [f"{CHAIN_ID}__blocks__00000000_to_00000009.parquet"]


def test_the_memory_limit_stops_the_child_not_the_worker(anvil: Node, tmp_path: Path) -> None:
    extractor = CryoExtractor(memory_limit=48 * 1024**2)
    with pytest.raises(RetryableError) as raised:
        extractor.extract(request(anvil.url, tmp_path / "out", ("blocks",), 0, 9), context(tmp_path))
    # Where the child runs out depends on the machine: loading Cryo, in Python, or in Rust.
    assert re.match(
        rf"Cryo, reading pool {POOL}, (exited with 1|was killed by SIGABRT): .*"
        r"(MemoryError|memory allocation of \d+ bytes failed|failed to map segment)",
        str(raised.value),
    )


# --- known traps ---


def test_a_node_without_block_receipts_gives_the_same_transactions(
    rpc_proxy: RpcProxy, anvil: Node, four: Files, tmp_path: Path
) -> None:
    assert anvil.chain is not None
    rpc_proxy.refuse = {"eth_getBlockReceipts"}
    files = extract(tmp_path, rpc_proxy.url(), ("transactions",), 0, anvil.head)
    assert [p.read_bytes() for p in files["transactions"]] == [p.read_bytes() for p in four["transactions"]]
    # Cryo falls back to one eth_getTransactionReceipt a transaction.
    assert rpc_proxy.calls["eth_getTransactionReceipt"] == sum(len(h) for h in anvil.chain.tx_hashes.values())


def test_traces_on_a_node_without_trace_block_is_fatal(rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    rpc_proxy.refuse = {"trace_block"}
    with pytest.raises(FatalError) as raised:
        extract(tmp_path, rpc_proxy.url(), ("blocks", "traces", "contracts"), 0, 9)
    assert str(raised.value) == (
        f"pool {POOL} does not serve trace_block as traces, contracts need: a Parity-style trace API (trace_block), "
        "as Erigon, Reth and Nethermind serve it; on geth use geth_calls "
        "(the method trace_block does not exist/is not available)"
    )
    files = extract(tmp_path / "geth", rpc_proxy.url(), ("geth_calls",), 0, 9)
    assert table(files["geth_calls"]).num_rows > 0


def test_receipts_without_status(rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    """Ethereum mainnet before Byzantium, played by the proxy: chain id 1 and receipts with `root`, not `status`."""
    rpc_proxy.chain_id, rpc_proxy.strip_status = 1, True
    with pytest.raises(FatalError) as raised:
        extract(tmp_path, rpc_proxy.url(), ("transactions",), 0, 29, chunk_size=10, chain_id=1)
    assert str(raised.value) == (
        "receipts of chain 1 before block 4,370,000 carry no status, so Cryo fails every transactions chunk of "
        "blocks 0..29 that has the success column: add exclude_columns: {transactions: [success]}"
    )
    assert not rpc_proxy.calls
    # What Cryo does on its own: every chunk of transactions fails.
    counts = freeze_directly(rpc_proxy.url(), ["transactions"], tmp_path / "direct", blocks=["0:30"], chunk_size=10)
    assert counts == {"n_completed": 0, "n_skipped": 0, "n_errored": 3}

    output = OutputOptions(exclude_columns={"transactions": ("success",)})
    files = extract(
        tmp_path / "excluded", rpc_proxy.url(), ("transactions",), 0, 29, chunk_size=10, chain_id=1, output=output
    )
    txs = table(files["transactions"])
    assert "success" not in txs.column_names and txs.num_rows > 0
    assert set(txs["chain_id"].to_pylist()) == {1}
