"""What is checked before commit: the tables against their range, the job's chain and the node's headers.

Unit tests on real Parquet files (the stub's, and Cryo's of the anvil chain), the bloom against real
anvil blocks, and each fault a node or gateway can commit, injected through `tests.faultproxy` in
front of anvil, end to end through `cryo-ingest task`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from logging.handlers import BufferingHandler
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cryo_ingest.checks.bloom import bloom_mask, in_bloom
from cryo_ingest.checks.node import check_against_node
from cryo_ingest.checks.tables import check_tables
from cryo_ingest.extract.cryo import headers as headers_module
from cryo_ingest.extract.cryo import node as rpc_node
from cryo_ingest.extract.cryo.headers import Header, fetch_headers
from cryo_ingest.extract.stub.writer import write_chunks
from cryo_ingest.job.endpoints import Endpoint
from cryo_ingest.publish.layout import Chunk, plan_chunks
from trace_operators.contract import Partition, RetryableError

from tests.anvil import CHAIN_ID, Node, RpcProxy
from tests.chain import rpc
from tests.faultproxy import Fault, Request, Reset, Respond, Rule, rewrite_answers, rewrite_results
from tests.freeze import freeze_directly

POOL = "testpool"
FOUR = ("blocks", "transactions", "logs", "traces")
CHUNK = 25
Files = dict[str, list[Path]]


def disagree(dataset: str, first: int, last: int, reference: str, detail: str, pool: str | None = POOL) -> str:
    """The message of a check that fails."""
    source, check = (f" (pool {pool})", ", or check the node") if pool else ("", "")
    return f"{dataset} of blocks {first}..{last} disagree with {reference}{source}: {detail}; retry{check}"


def rewritten(path: Path, out: Path, change: Callable[[pa.Table], pa.Table], statistics: bool = True) -> Path:
    """A copy of the Parquet file at `path`, its table changed by `change`."""
    pq.write_table(change(pq.read_table(path)), out, write_statistics=statistics)
    return out


def replaced(table: pa.Table, column: str, values: list[Any]) -> pa.Table:
    index = table.schema.get_field_index(column)
    return table.set_column(index, table.schema.field(index), pa.array(values, table.schema.field(index).type))


# --- the checks that need no node, on the stub's files ---


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """The stub's four datasets of blocks 0..99 in chunks of 25."""
    return write_chunks(FOUR, CHAIN_ID, 0, 99, CHUNK, tmp_path_factory.mktemp("stub"))


def test_the_stubs_tables_pass(stub: Files) -> None:
    check_tables(stub, CHAIN_ID, plan_chunks(Partition(0, 99), CHUNK), None)


@pytest.mark.parametrize("statistics", [True, False], ids=["footer-statistics", "values"])
def test_a_blocks_file_holds_each_block_once(stub: Files, tmp_path: Path, statistics: bool) -> None:
    twice = [21 if n == 20 else n for n in range(25)]
    path = rewritten(
        stub["blocks"][0], tmp_path / "b.parquet", lambda t: replaced(t, "block_number", twice), statistics
    )
    with pytest.raises(RetryableError) as raised:
        check_tables({"blocks": [path]}, CHAIN_ID, [Chunk(0, 24)], POOL)
    detail = "block 20 is missing and block 21 is there 2 times"
    assert str(raised.value) == disagree("blocks", 0, 24, "the range", detail)
    with pytest.raises(RetryableError) as stubbed:
        check_tables({"blocks": [path]}, CHAIN_ID, [Chunk(0, 24)], None)
    assert str(stubbed.value) == disagree("blocks", 0, 24, "the range", detail, pool=None)


def test_many_missing_blocks_are_counted(stub: Files, tmp_path: Path) -> None:
    path = rewritten(stub["blocks"][0], tmp_path / "b.parquet", lambda t: t.slice(0, 20))
    with pytest.raises(RetryableError) as raised:
        check_tables({"blocks": [path]}, CHAIN_ID, [Chunk(0, 24)], POOL)
    detail = "block 20 is missing and block 21 is missing and block 22 is missing (and 2 more)"
    assert str(raised.value) == disagree("blocks", 0, 24, "the range", detail)

    empty = rewritten(stub["blocks"][0], tmp_path / "e.parquet", lambda t: t.slice(0, 0))
    with pytest.raises(RetryableError) as raised:
        check_tables({"blocks": [empty]}, CHAIN_ID, [Chunk(0, 24)], POOL)
    detail = "block 0 is missing and block 1 is missing and block 2 is missing (and 22 more)"
    assert str(raised.value) == disagree("blocks", 0, 24, "the range", detail)


@pytest.mark.parametrize("statistics", [True, False], ids=["footer-statistics", "values"])
def test_no_row_outside_its_chunk(stub: Files, tmp_path: Path, statistics: bool) -> None:
    logs = pq.read_table(stub["logs"][1])
    numbers = logs["block_number"].to_pylist()
    path = rewritten(
        stub["logs"][1], tmp_path / "l.parquet", lambda t: replaced(t, "block_number", [*numbers[:-1], 60]), statistics
    )
    files = {"blocks": stub["blocks"][:2], "logs": [stub["logs"][0], path]}
    with pytest.raises(RetryableError) as raised:
        check_tables(files, CHAIN_ID, [Chunk(0, 24), Chunk(25, 49)], POOL)
    assert str(raised.value) == disagree("logs", 25, 49, "the range", "rows of block 60 are outside it")

    nulls = rewritten(
        stub["logs"][1], tmp_path / "n.parquet", lambda t: replaced(t, "block_number", [None] * t.num_rows)
    )
    with pytest.raises(RetryableError) as raised:
        check_tables({"logs": [nulls]}, CHAIN_ID, [Chunk(25, 49)], POOL)
    assert str(raised.value) == disagree("logs", 25, 49, "the range", f"{len(numbers)} row(s) have no block_number")


def test_the_chain_id_is_the_jobs_in_every_table(stub: Files, tmp_path: Path) -> None:
    txs = pq.read_table(stub["transactions"][0])
    other = [*txs["chain_id"].to_pylist()[:-1], 31337]
    path = rewritten(stub["transactions"][0], tmp_path / "t.parquet", lambda t: replaced(t, "chain_id", other))
    with pytest.raises(RetryableError) as raised:
        check_tables({"transactions": [path]}, CHAIN_ID, [Chunk(0, 24)], POOL)
    assert str(raised.value) == disagree("transactions", 0, 24, "the job's chain", "chain_id is 31337, not 10143")


def test_a_check_whose_column_is_excluded_is_skipped(stub: Files, tmp_path: Path) -> None:
    """`exclude_columns: {transactions: [chain_id]}` writes no chain_id: there is nothing to compare."""
    other = rewritten(
        stub["transactions"][0], tmp_path / "t.parquet", lambda t: replaced(t, "chain_id", [1] * t.num_rows)
    )
    excluded = rewritten(other, tmp_path / "x.parquet", lambda t: t.drop_columns(["chain_id"]))
    check_tables({"transactions": [excluded]}, CHAIN_ID, [Chunk(0, 24)], POOL)
    with pytest.raises(RetryableError):
        check_tables({"transactions": [other]}, CHAIN_ID, [Chunk(0, 24)], POOL)


# --- the bloom, against real anvil blocks ---


def test_a_blocks_bloom_is_the_union_of_its_logs_addresses_and_topics(anvil: Node) -> None:
    logs = rpc(anvil.url, "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(anvil.head)})
    union: dict[int, int] = {}
    for log in logs:
        for value in [log["address"], *log["topics"]]:
            number = int(log["blockNumber"], 16)
            union[number] = union.get(number, 0) | bloom_mask(bytes.fromhex(value[2:]))
    assert len(union) > 50
    for number in range(anvil.head + 1):
        bloom = int(rpc(anvil.url, "eth_getBlockByNumber", hex(number), False)["logsBloom"], 16)
        assert bloom == union.get(number, 0), number
    block = int(logs[0]["blockNumber"], 16)
    bloom = int(rpc(anvil.url, "eth_getBlockByNumber", hex(block), False)["logsBloom"], 16)
    assert in_bloom(bloom, bytes.fromhex(logs[0]["address"][2:]))
    assert not in_bloom(bloom, b"\x99" * 20)


# --- the node's headers ---


def read_headers(url: str, partition: Partition) -> dict[int, Header]:
    """The headers of `partition` as a fresh process reads them from the node at `url`."""
    return fetch_headers(rpc_node.Node(Endpoint(POOL, url)), partition, threading.Event())


def test_the_headers_are_the_nodes_read_in_batches(
    anvil: Node, rpc_proxy: RpcProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(headers_module, "BATCH", 40)
    headers = read_headers(rpc_proxy.url(), Partition(0, anvil.head))
    assert sorted(headers) == list(range(anvil.head + 1))
    for number in (0, 1, 22, anvil.head):
        block = rpc(anvil.url, "eth_getBlockByNumber", hex(number), False)
        header = headers[number]
        assert "0x" + header.hash.hex() == block["hash"]
        assert header.bloom == int(block["logsBloom"], 16)
        assert header.transactions == b"".join(hash_of(h) for h in block["transactions"])
        assert header.transaction_count == len(block["transactions"])
    assert [(r.is_batch, len(r.calls)) for r in rpc_proxy.requests] == [(True, 40), (True, 40), (True, 11)]


def over(limit: int, fault: Callable[[Request], Fault]) -> Rule:
    """A rule answering every batch of more than `limit` calls with `fault(request)`."""
    return lambda request: fault(request) if request.is_batch and len(request.calls) > limit else None


def error_object(code: int, message: str) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}).encode()


def each_answer_an_error(code: int, message: str) -> Callable[[Request], Fault]:
    return lambda request: rewrite_answers(
        request, lambda call, answer: {"jsonrpc": "2.0", "id": call["id"], "error": {"code": code, "message": message}}
    )


#: How nodes and gateways refuse a batch: geth past its batch limit, a gateway's size limit, a node that
#: parses single calls only, geth past its response size limit (each answer an error).
REFUSALS: list[tuple[str, Callable[[Request], Fault], str]] = [
    (
        "geth-batch-limit",
        lambda request: Respond(200, error_object(-32600, "batch too large")),
        "-32600: batch too large",
    ),
    ("http-413", lambda request: Respond(413, b"Request Entity Too Large"), "HTTP 413"),
    (
        "http-400-parse-error",
        lambda request: Respond(400, error_object(-32700, "parse error: expected an object")),
        "-32700: parse error: expected an object",
    ),
    ("response-too-large", each_answer_an_error(-32003, "response too large"), "-32003: response too large"),
]


@pytest.fixture
def node_warnings() -> Iterator[list[logging.LogRecord]]:
    """The records the node module logs during the test (the CLI's logger may stop them on their way up)."""
    handler = BufferingHandler(capacity=10_000)
    logger = logging.getLogger(rpc_node.__name__)
    logger.addHandler(handler)
    try:
        yield handler.buffer
    finally:
        logger.removeHandler(handler)


def refused(size: int, reason: str, next_size: int) -> str:
    """The warning of a refused batch of `size` header reads."""
    asking = "one call" if next_size == 1 else next_size
    return (
        f"pool {POOL} refused a JSON-RPC batch of {size} eth_getBlockByNumber calls ({reason}); "
        f"asking {asking} at a time from now on"
    )


#: (refused over, blocks 0..90 asked 40 at a time: the requests sent, the warnings' sizes before and after).
#: Past a limit of 10: 0..39 refused at 40 and 20, then 10 at a time to the end, the last block of 80..90 alone.
LIMIT_10 = (10, [(True, 40), (True, 20), *[(True, 10)] * 9, (False, 1)], [(40, 20), (20, 10)])
NO_BATCHES = (
    1,
    [(True, 40), (True, 20), (True, 10), (True, 5), (True, 2), *[(False, 1)] * 91],
    [(40, 20), (20, 10), (10, 5), (5, 2), (2, 1)],
)
HALVINGS = [(name, refusal, reason, *LIMIT_10) for name, refusal, reason in REFUSALS] + [
    (
        "no-batches",
        lambda request: Respond(200, error_object(-32600, "batches are not supported")),
        "-32600: batches are not supported",
        *NO_BATCHES,
    )
]


@pytest.mark.parametrize("refusal, reason, limit, sent, steps", [h[1:] for h in HALVINGS], ids=[h[0] for h in HALVINGS])
def test_a_refused_batch_is_asked_again_in_halves_and_the_size_that_passed_is_kept(
    anvil: Node,
    rpc_proxy: RpcProxy,
    headers: dict[int, Header],
    node_warnings: list[logging.LogRecord],
    monkeypatch: pytest.MonkeyPatch,
    refusal: Callable[[Request], Fault],
    reason: str,
    limit: int,
    sent: list[tuple[bool, int]],
    steps: list[tuple[int, int]],
) -> None:
    assert anvil.head == 90
    monkeypatch.setattr(headers_module, "BATCH", 40)
    rpc_proxy.rules.append(over(limit, refusal))
    assert read_headers(rpc_proxy.url("alice:pw-s3cret"), Partition(0, anvil.head)) == headers
    assert [(r.is_batch, len(r.calls)) for r in rpc_proxy.requests] == sent
    warned = [(r.levelno, r.getMessage()) for r in node_warnings]
    assert warned == [(logging.WARNING, refused(size, reason, then)) for size, then in steps]


def block_instead(anvil: Node, asked: int, given: int | None) -> Rule:
    """A rule answering `eth_getBlockByNumber(asked)` with block `given` (None: null), to every client."""
    return rewrite_results(
        "eth_getBlockByNumber",
        lambda params, result: (
            (None if given is None else rpc(anvil.url, "eth_getBlockByNumber", hex(given), params[1]))
            if int(params[0], 16) == asked
            else result
        ),
    )


ODD_HEADERS: list[tuple[str, Callable[[Node, RpcProxy], None], str]] = [
    (
        "another-block",
        lambda anvil, proxy: proxy.rules.append(block_instead(anvil, 20, 21)),
        f"pool {POOL} answered eth_getBlockByNumber for block 20 with block 21",
    ),
    (
        "null",
        lambda anvil, proxy: proxy.rules.append(block_instead(anvil, 20, None)),
        f"pool {POOL} has no block 20 (eth_getBlockByNumber answered null)",
    ),
    (
        "not-a-block",
        lambda anvil, proxy: proxy.rules.append(
            rewrite_results("eth_getBlockByNumber", lambda params, result: {**result, "hash": "0x12"})
        ),
        f"pool {POOL} answered eth_getBlockByNumber for block 0 with something not a block",
    ),
    (
        "http-503",
        lambda anvil, proxy: setattr(proxy, "fail_blocks", {20}),
        f"pool {POOL} answered eth_getBlockByNumber with HTTP 503",
    ),
    (
        "error-object",
        lambda anvil, proxy: setattr(proxy, "refuse", {"eth_getBlockByNumber"}),
        f"pool {POOL} answered eth_getBlockByNumber with an error: "
        "the method eth_getBlockByNumber does not exist/is not available",
    ),
    (
        "rate-limited",
        lambda anvil, proxy: proxy.rules.append(
            lambda request: Respond(200, error_object(-32005, "daily request count exceeded, request rate limited"))
        ),
        f"pool {POOL} answered eth_getBlockByNumber with an error: daily request count exceeded, request rate limited",
    ),
    (
        "http-429",
        lambda anvil, proxy: proxy.rules.append(lambda request: Respond(429, b"Too Many Requests")),
        f"pool {POOL} answered eth_getBlockByNumber with HTTP 429",
    ),
    (
        "reset",
        lambda anvil, proxy: proxy.rules.append(lambda request: Reset(after=10)),
        f"pool {POOL} did not answer eth_getBlockByNumber: [Errno 104] Connection reset by peer",
    ),
]


@pytest.mark.parametrize("fault, message", [(f, m) for _, f, m in ODD_HEADERS], ids=[i for i, _, _ in ODD_HEADERS])
def test_an_odd_header_answer_is_retryable_and_names_the_pool(
    anvil: Node, rpc_proxy: RpcProxy, fault: Callable[[Node, RpcProxy], None], message: str
) -> None:
    fault(anvil, rpc_proxy)
    url = rpc_proxy.url("alice:pw-s3cret", "/v2/PATHKEY123")
    with pytest.raises(RetryableError) as raised:
        read_headers(url, Partition(0, 29))
    assert str(raised.value) == message
    assert len(rpc_proxy.requests) == 1  # none of these refuses the batch: a smaller one would fare no better
    assert "s3cret" not in str(raised.value) and "PATHKEY" not in str(raised.value)


# --- Cryo's tables against the node, on Cryo's files of the anvil chain ---


@pytest.fixture(scope="module")
def cryo(anvil: Node, tmp_path_factory: pytest.TempPathFactory) -> Files:
    """Cryo's four datasets of the whole chain, in chunks of 25."""
    out = tmp_path_factory.mktemp("cryo")
    counts = freeze_directly(
        anvil.url, list(FOUR), out, blocks=[f"0:{anvil.head + 1}"], chunk_size=CHUNK, network_name=str(CHAIN_ID)
    )
    assert counts["n_errored"] == 0
    return {dataset: sorted(out.glob(f"*__{dataset}__*.parquet")) for dataset in FOUR}


@pytest.fixture(scope="module")
def headers(anvil: Node) -> dict[int, Header]:
    return read_headers(anvil.url, Partition(0, anvil.head))


def chunks_of(anvil: Node) -> list[Chunk]:
    return plan_chunks(Partition(0, anvil.head), CHUNK)


def test_cryos_tables_agree_with_the_node(anvil: Node, cryo: Files, headers: dict[int, Header]) -> None:
    check_against_node(cryo, chunks_of(anvil), headers, POOL)
    check_tables(cryo, CHAIN_ID, chunks_of(anvil), POOL)


def test_hex_columns_agree_with_the_node(anvil: Node, headers: dict[int, Header], tmp_path: Path) -> None:
    counts = freeze_directly(
        anvil.url, list(FOUR), tmp_path, blocks=["0:50"], chunk_size=CHUNK, network_name=str(CHAIN_ID), hex=True
    )
    assert counts["n_errored"] == 0
    files = {dataset: sorted(tmp_path.glob(f"*__{dataset}__*.parquet")) for dataset in FOUR}
    assert pq.read_schema(files["logs"][0]).field("address").type == pa.large_string()
    check_against_node(files, [Chunk(0, 24), Chunk(25, 49)], headers, POOL)


def hash_of(text: str) -> bytes:
    return bytes.fromhex(text[2:])


def tx_hashes(anvil: Node, block: int) -> list[bytes]:
    assert anvil.chain is not None
    return [hash_of(h) for h in anvil.chain.tx_hashes[block]]


def file_of(files: Files, dataset: str, block: int) -> tuple[int, Path]:
    index = block // CHUNK
    return index, files[dataset][index]


def in_block(table: pa.Table, column: str, block: int, value: bytes) -> pa.Table:
    """`table` with `column` set to `value` in the rows of `block` where it is not null."""
    numbers, values = table["block_number"].to_pylist(), table[column].to_pylist()
    return replaced(table, column, [value if n == block and v is not None else v for n, v in zip(numbers, values)])


def without(table: pa.Table, column: str, value: Any) -> pa.Table:
    """`table` without the rows whose `column` is `value`."""
    return table.filter(pc.not_equal(table[column], pa.scalar(value, table.schema.field(column).type)))


def node_hash(anvil: Node, block: int) -> str:
    return rpc(anvil.url, "eth_getBlockByNumber", hex(block), False)["hash"]


#: (id, dataset, block, change of the chunk's table, what disagrees), each given the chain.
MUTATIONS: list[tuple[str, str, int, Callable[[pa.Table, Node], pa.Table], Callable[[Node], str]]] = [
    (
        "logs-missing",
        "logs",
        41,
        lambda t, anvil: without(t, "block_number", 41),
        lambda anvil: "block 41's bloom is not empty but no logs were extracted",
    ),
    (
        "logs-in-an-empty-block",
        "logs",
        40,
        # Without transaction hashes, which would tell first that the log's transaction is not block 40's.
        lambda t, anvil: replaced(t.drop_columns(["transaction_hash"]), "block_number", [40, *t["block_number"][1:]]),
        lambda anvil: "block 40's bloom is empty but 1 log(s) were extracted",
    ),
    (
        "topic-not-in-bloom",
        "logs",
        41,
        lambda t, anvil: in_block(t, "topic1", 41, b"\x99" * 32),
        lambda anvil: f"the topic1 0x{'99' * 32} of a log of block 41 is not in the block's bloom",
    ),
    (
        "address-not-in-bloom",
        "logs",
        41,
        lambda t, anvil: in_block(t, "address", 41, b"\x99" * 20),
        lambda anvil: f"the address 0x{'99' * 20} of a log of block 41 is not in the block's bloom",
    ),
    (
        "transaction-missing",
        "transactions",
        22,
        lambda t, anvil: without(t, "transaction_hash", tx_hashes(anvil, 22)[0]),
        lambda anvil: f"block 22 has {len(tx_hashes(anvil, 22)) - 1} transaction(s), the node's has "
        f"{len(tx_hashes(anvil, 22))}",
    ),
    (
        "transaction-unknown",
        "transactions",
        22,
        lambda t, anvil: in_block(t, "transaction_hash", 22, b"\x01" * 32),
        lambda anvil: f"transaction 0x{'01' * 32} of block 22 is not one of the node's",
    ),
    (
        "traces-missing",
        "traces",
        30,
        lambda t, anvil: without(t, "transaction_hash", min(tx_hashes(anvil, 30))),
        lambda anvil: f"transaction 0x{min(tx_hashes(anvil, 30)).hex()} of block 30 has no traces",
    ),
    (
        "block-hash",
        "blocks",
        3,
        lambda t, anvil: in_block(t, "block_hash", 3, b"\x02" * 32),
        lambda anvil: f"block 3's hash is 0x{'02' * 32}, the node's {node_hash(anvil, 3)}",
    ),
]


@pytest.mark.parametrize("dataset, block, change, detail", [m[1:] for m in MUTATIONS], ids=[m[0] for m in MUTATIONS])
def test_what_disagrees_with_the_node_is_named(
    anvil: Node,
    cryo: Files,
    headers: dict[int, Header],
    tmp_path: Path,
    dataset: str,
    block: int,
    change: Callable[[pa.Table, Node], pa.Table],
    detail: Callable[[Node], str],
) -> None:
    index, path = file_of(cryo, dataset, block)
    files = {**cryo, dataset: [*cryo[dataset]]}
    files[dataset][index] = rewritten(path, tmp_path / path.name, lambda t: change(t, anvil))
    chunk = chunks_of(anvil)[index]
    with pytest.raises(RetryableError) as raised:
        check_against_node(files, chunks_of(anvil), headers, POOL)
    assert str(raised.value) == disagree(dataset, chunk.first, chunk.last, "the node", detail(anvil))


def test_a_check_against_the_node_whose_column_is_excluded_is_skipped(
    anvil: Node, cryo: Files, headers: dict[int, Header], tmp_path: Path
) -> None:
    """`exclude_columns: {logs: [topic1]}`: the other columns are still checked against the bloom."""
    _, path = file_of(cryo, "logs", 41)
    wrong = rewritten(path, tmp_path / "wrong.parquet", lambda t: in_block(t, "topic1", 41, b"\x99" * 32))
    excluded = rewritten(wrong, tmp_path / "excluded.parquet", lambda t: t.drop_columns(["topic1"]))
    check_against_node({"logs": [excluded]}, [chunks_of(anvil)[41 // CHUNK]], headers, POOL)


# --- each fault end to end: `cryo-ingest task` through the proxy, nothing committed, then a clean retry ---


def from_cryo(request: Request) -> bool:
    """Whether Cryo sent `request`: it sends no User-Agent, the operator's own checks send urllib's."""
    return request.header("User-Agent") is None


def task(datasets: list[str], start: int, end: int, attempt: int = 1, **config: Any) -> str:
    job = {
        "name": "chain",
        "operator": "cryo_ingest",
        "config": {"chain_id": CHAIN_ID, "datasets": datasets, "rpc_pool": "monad", "chunk_size": 10, **config},
        "outputs": len(datasets),
    }
    return json.dumps({"task_id": "t-1", "attempt": attempt, "job": job, "partition": {"start": start, "end": end}})


def run_task(cli, url: str, text: str) -> tuple[int, dict[str, Any]]:
    done = cli("task", "-", "--extractor", "cryo", input=text, extra_env=monad(url))
    return done.returncode, json.loads(done.stdout)


def monad(url: str) -> dict[str, str]:
    """The environment giving pool `monad` the endpoint `url`."""
    return {"TRACE_RPC_POOL_MONAD_URL": url}


def markers(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "cryo-data").rglob("_SUCCESS"))


def logs_lag_past(block: int) -> Rule:
    return rewrite_results("eth_getLogs", lambda params, logs: [] if int(params[0]["fromBlock"], 16) > block else logs)


def receipts_empty_for(block: int) -> Rule:
    return rewrite_results(
        "eth_getBlockReceipts", lambda params, receipts: [] if int(params[0], 16) == block else receipts
    )


def chain_id_to_cryo(chain_id: int) -> Rule:
    return rewrite_results("eth_chainId", lambda params, result: hex(chain_id), when=from_cryo)


def body_of(anvil: Node, asked: int, given: int) -> Rule:
    return rewrite_results(
        "eth_getBlockByNumber",
        lambda params, block: rpc(anvil.url, "eth_getBlockByNumber", hex(given), params[1])
        if int(params[0], 16) == asked
        else block,
        when=from_cryo,
    )


def traces_empty_for(block: int) -> Rule:
    return rewrite_results("trace_block", lambda params, traces: [] if int(params[0], 16) == block else traces)


FAULTS: list[tuple[str, Callable[[Node], Rule], list[str], Callable[[Node], str]]] = [
    (
        "logs-lagging",
        lambda anvil: logs_lag_past(40),
        ["logs"],
        lambda anvil: disagree(
            "logs", 40, 49, "the node", "block 41's bloom is not empty but no logs were extracted", "monad"
        ),
    ),
    (
        "receipts-empty",
        lambda anvil: receipts_empty_for(22),
        ["transactions"],
        lambda anvil: disagree(
            "transactions",
            20,
            29,
            "the node",
            f"block 22 has 0 transaction(s), the node's has {len(tx_hashes(anvil, 22))}",
            "monad",
        ),
    ),
    (
        "chain-id-to-cryo",
        lambda anvil: chain_id_to_cryo(31337),
        ["blocks", "transactions", "logs"],
        lambda anvil: disagree("blocks", 0, 9, "the job's chain", "chain_id is 31337, not 10143", "monad"),
    ),
    (
        "another-blocks-body",
        lambda anvil: body_of(anvil, 20, 21),
        ["blocks"],
        lambda anvil: disagree(
            "blocks", 20, 29, "the range", "block 20 is missing and block 21 is there 2 times", "monad"
        ),
    ),
    (
        "traces-empty",
        lambda anvil: traces_empty_for(30),
        ["traces"],
        lambda anvil: disagree(
            "traces",
            30,
            39,
            "the node",
            f"transaction 0x{min(tx_hashes(anvil, 30)).hex()} of block 30 has no traces",
            "monad",
        ),
    ),
]


@pytest.mark.parametrize("fault, datasets, message", [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_a_wrong_answer_is_caught_before_commit_and_a_clean_retry_publishes(
    cli,
    anvil: Node,
    rpc_proxy: RpcProxy,
    tmp_path: Path,
    fault: Callable[[Node], Rule],
    datasets: list[str],
    message: Callable[[Node], str],
) -> None:
    rule = fault(anvil)
    rpc_proxy.rules.append(rule)
    code, result = run_task(cli, rpc_proxy.url(), task(datasets, 0, 49))
    assert (code, result["outcome"]) == (75, "retryable_error")
    assert result["error_message"] == message(anvil)
    assert result["datasets_published"] == []
    assert markers(tmp_path) == []

    rpc_proxy.rules.remove(rule)
    code, result = run_task(cli, rpc_proxy.url(), task(datasets, 0, 49, attempt=2))
    assert (code, result["outcome"]) == (0, "success")
    assert [p["dataset"] for p in result["datasets_published"]] == datasets
    assert len(markers(tmp_path)) == len(datasets)


def test_a_clean_run_of_the_whole_chain_publishes_every_dataset(cli, anvil: Node, tmp_path: Path) -> None:
    code, result = run_task(cli, anvil.url, task(list(FOUR), 0, anvil.head))
    assert (code, result["outcome"]) == (0, "success"), result["error_message"]
    assert [p["dataset"] for p in result["datasets_published"]] == list(FOUR)
    assert result["datasets_published"][0]["row_count"] == anvil.head + 1
    assert len(markers(tmp_path)) == 4


def test_a_node_with_a_batch_limit_publishes_and_the_log_says_what_it_took(
    cli, anvil: Node, rpc_proxy: RpcProxy, tmp_path: Path
) -> None:
    rpc_proxy.rules.append(over(30, lambda request: Respond(200, error_object(-32600, "batch too large"))))
    done = cli("task", "-", "--extractor", "cryo", input=task(list(FOUR), 0, 49), extra_env=monad(rpc_proxy.url()))
    result = json.loads(done.stdout)
    assert (done.returncode, result["outcome"]) == (0, "success"), result["error_message"]
    assert len(markers(tmp_path)) == 4
    warning = refused(50, "-32600: batch too large", 25).replace(f"pool {POOL}", "pool monad")
    assert [line for line in done.stderr.splitlines() if "refused" in line] == [f"WARNING {warning}"]


def test_a_clean_run_with_hex_and_excluded_columns_publishes(cli, anvil: Node, tmp_path: Path) -> None:
    excluded = {"blocks": ["chain_id"], "logs": ["topic3", "chain_id"], "traces": ["block_hash"]}
    code, result = run_task(cli, anvil.url, task(list(FOUR), 0, 49, hex=True, exclude_columns=excluded))
    assert (code, result["outcome"]) == (0, "success"), result["error_message"]
    assert len(markers(tmp_path)) == 4
