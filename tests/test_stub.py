"""The stub extractor: Cryo's exact schemas, a consistent synthetic chain, deterministic files."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cryo_ingest.extract.base import ExtractRequest
from cryo_ingest.extract.cryo_schemas import SCHEMAS
from cryo_ingest.extract.stub import DATASETS, STUB_VERSION, StubExtractor
from cryo_ingest.extract.stub.shape import MAX_BLOCK, MAX_TRANSACTIONS
from cryo_ingest.extract.stub.tables import chunk_table, parent_hashes
from cryo_ingest.extract.stub.writer import write_chunks
from cryo_ingest.job.options import Compression, OutputOptions, Throughput
from cryo_ingest.publish.layout import Chunk
from trace_operators.contract import Cancelled, FatalError, TaskContext

from tests.anvil import Node
from tests.freeze import freeze_directly

CHAIN_ID = 10143


@pytest.fixture(scope="module")
def cryo_files(anvil: Node, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The four default datasets of the test chain, extracted by the real Cryo wheel."""
    out = tmp_path_factory.mktemp("cryo")
    counts = freeze_directly(anvil.url, list(DATASETS), out, blocks=[f"0:{anvil.head + 1}"], network_name=str(CHAIN_ID))
    assert counts["n_errored"] == 0
    return {dataset: out / Chunk(0, anvil.head).file_name(CHAIN_ID, dataset) for dataset in DATASETS}


# --- schemas --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_schemas_are_exactly_those_cryo_writes(dataset: str, cryo_files: dict[str, Path], tmp_path: Path) -> None:
    cryo_file = cryo_files[dataset]
    [stub_file] = write_chunks([dataset], CHAIN_ID, 0, 99, 100, tmp_path)[dataset]
    assert pq.read_schema(cryo_file).equals(SCHEMAS[dataset], check_metadata=True)
    assert pq.read_schema(stub_file).equals(pq.read_schema(cryo_file), check_metadata=True)
    assert pq.read_table(cryo_file).num_rows > 0
    # The Parquet-level schema too (physical and logical types, repetition), and Cryo's default codec.
    cryo_parquet, stub_parquet = pq.ParquetFile(cryo_file), pq.ParquetFile(stub_file)
    assert stub_parquet.schema.equals(cryo_parquet.schema)
    codecs = {cryo_parquet.metadata.row_group(0).column(i).compression for i in range(len(SCHEMAS[dataset]))}
    stub_codecs = {stub_parquet.metadata.row_group(0).column(i).compression for i in range(len(SCHEMAS[dataset]))}
    assert codecs == stub_codecs == {"LZ4"}


@pytest.mark.parametrize("dataset", DATASETS)
def test_chunk_table_has_the_embedded_schema(dataset: str) -> None:
    assert chunk_table(dataset, CHAIN_ID, 7, 20).schema.equals(SCHEMAS[dataset], check_metadata=True)


# --- the chain ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain() -> dict[str, pa.Table]:
    """Ten thousand blocks of every dataset, generated in one chunk."""
    return {dataset: chunk_table(dataset, CHAIN_ID, 0, 9_999) for dataset in DATASETS}


def test_one_row_per_block_with_increasing_timestamps(chain: dict[str, pa.Table]) -> None:
    blocks = chain["blocks"]
    assert blocks["block_number"].to_pylist() == list(range(10_000))
    assert blocks["timestamp"].to_pylist() == [1_700_000_000 + n for n in range(10_000)]
    assert len(set(blocks["block_hash"].to_pylist())) == 10_000
    assert {len(h) for h in blocks["block_hash"].to_pylist()} == {32}
    assert {len(a) for a in blocks["author"].to_pylist()} == {20}
    assert set(blocks["chain_id"].to_pylist()) == {CHAIN_ID}


def test_density(chain: dict[str, pa.Table]) -> None:
    def keys(table: pa.Table) -> list[tuple[int, int]]:
        return list(zip(table["block_number"].to_pylist(), table["transaction_index"].to_pylist()))

    per_block = Counter(chain["transactions"]["block_number"].to_pylist())
    assert 3.5 <= chain["transactions"].num_rows / 10_000 <= 4.5
    assert 10_000 - len(per_block) > 0, "some blocks are empty"
    assert max(per_block.values()) == MAX_TRANSACTIONS
    transactions = set(keys(chain["transactions"]))
    for dataset in ("logs", "traces"):
        per_tx = Counter(keys(chain[dataset]))
        assert set(per_tx) == transactions, f"every transaction has {dataset}"
        assert set(per_tx.values()) == {1, 2, 3}


def test_logs_and_traces_refer_to_transactions_of_their_block(chain: dict[str, pa.Table]) -> None:
    def triples(table: pa.Table) -> list[tuple[int, int, bytes]]:
        columns = ("block_number", "transaction_index", "transaction_hash")
        return list(zip(*(table[c].to_pylist() for c in columns)))

    transactions = triples(chain["transactions"])
    assert len({h for _, _, h in transactions}) == len(transactions), "transaction hashes are unique"
    assert set(triples(chain["logs"])) <= set(transactions)
    assert set(triples(chain["traces"])) <= set(transactions)
    block_hash = chain["blocks"]["block_hash"].to_pylist()
    traces = chain["traces"]
    assert [block_hash[n] for n in traces["block_number"].to_pylist()] == traces["block_hash"].to_pylist()


def test_indices_run_from_zero_within_their_block_or_transaction(chain: dict[str, pa.Table]) -> None:
    def runs(table: pa.Table, group: list[str], index: str) -> bool:
        seen: Counter[tuple[int, ...]] = Counter()
        for row in zip(*(table[c].to_pylist() for c in group), table[index].to_pylist()):
            key, value = row[:-1], row[-1]
            if value != seen[key]:
                return False
            seen[key] += 1
        return True

    assert runs(chain["transactions"], ["block_number"], "transaction_index")
    assert runs(chain["logs"], ["block_number"], "log_index")
    traces = chain["traces"]
    top = pc.equal(traces["trace_address"], "")
    assert traces.filter(top).num_rows == chain["transactions"].num_rows
    subtraces = Counter(zip(traces["block_number"].to_pylist(), traces["transaction_index"].to_pylist()))
    for row in traces.filter(top).select(["block_number", "transaction_index", "subtraces"]).to_pylist():
        assert row["subtraces"] == subtraces[(row["block_number"], row["transaction_index"])] - 1
    assert set(traces["trace_address"].to_pylist()) == {"", "0", "1"}


def test_transaction_values_agree_with_each_other(chain: dict[str, pa.Table]) -> None:
    transactions = chain["transactions"].to_pylist()
    for tx in transactions:
        value = int.from_bytes(tx["value_binary"], "big")
        assert len(tx["value_binary"]) == 32
        assert tx["value_string"] == str(value) and tx["value_f64"] == float(value)
        data = tx["input"]
        assert (tx["n_input_bytes"], tx["n_input_zero_bytes"]) == (len(data), data.count(0))
        assert tx["n_input_nonzero_bytes"] == len(data) - data.count(0)
        assert len(tx["from_address"]) == 20 and tx["gas_limit"] >= tx["gas_used"] >= 21_000
        assert tx["success"] is True and tx["transaction_type"] in (0, 1, 2)
        dynamic = tx["transaction_type"] == 2
        assert (tx["max_fee_per_gas"] is not None) == (tx["max_priority_fee_per_gas"] is not None) == dynamic
        if dynamic:
            assert tx["max_fee_per_gas"] >= tx["gas_price"] >= tx["max_priority_fee_per_gas"]
    base_fee = chain["blocks"]["base_fee_per_gas"].to_pylist()
    assert all(tx["gas_price"] >= base_fee[tx["block_number"]] for tx in transactions)
    assert {tx["value_string"] for tx in transactions} > {"0"}
    gas = Counter()
    for tx in transactions:
        gas[tx["block_number"]] += tx["gas_used"]
    assert chain["blocks"]["gas_used"].to_pylist() == [gas[n] for n in range(10_000)]


def test_creates_and_calls_are_traced_as_such(chain: dict[str, pa.Table]) -> None:
    transactions = {(tx["block_number"], tx["transaction_index"]): tx for tx in chain["transactions"].to_pylist()}
    creates = 0
    for trace in chain["traces"].filter(pc.equal(chain["traces"]["trace_address"], "")).to_pylist():
        tx = transactions[(trace["block_number"], trace["transaction_index"])]
        assert trace["action_from"] == tx["from_address"] and trace["action_to"] == tx["to_address"]
        assert trace["action_value"] == tx["value_string"]
        if tx["to_address"] is None:
            creates += 1
            assert trace["action_type"] == "create" and trace["action_init"] == tx["input"]
            assert trace["action_input"] is None and trace["action_call_type"] is None
            assert len(trace["result_address"]) == 20 and trace["result_code"] in tx["input"]
        else:
            assert trace["action_type"] == "call" and trace["action_call_type"] == "call"
            assert trace["action_input"] == tx["input"] and trace["result_address"] is None
        assert trace["result_gas_used"] <= trace["action_gas"]
    assert 0 < creates < len(transactions) / 8


def test_topics_are_present_up_to_a_null(chain: dict[str, pa.Table]) -> None:
    logs = chain["logs"]
    for row in logs.select(["topic0", "topic1", "topic2", "topic3"]).to_pylist():
        topics = [row[f"topic{k}"] for k in range(4)]
        present = [t is not None for t in topics]
        assert present == sorted(present, reverse=True) and present[0]
        assert all(len(t) == 32 for t in topics if t is not None)


def test_parent_hashes_chain_across_chunk_boundaries(tmp_path: Path) -> None:
    files = write_chunks(["blocks"], CHAIN_ID, 0, 2_499, 1_000, tmp_path)["blocks"]
    hashes = pa.concat_tables(pq.read_table(f) for f in files)["block_hash"].to_pylist()
    parents = parent_hashes(CHAIN_ID, 0, 2_499).to_pylist()
    assert parents[0] == bytes(32)
    assert parents[1:] == hashes[:-1]
    assert parent_hashes(CHAIN_ID, 1_000, 1_000).to_pylist() == [hashes[999]]


def test_a_block_has_the_same_rows_whichever_chunk_holds_it() -> None:
    for dataset in DATASETS:
        a = chunk_table(dataset, CHAIN_ID, 0, 999)
        b = chunk_table(dataset, CHAIN_ID, 637, 1_900)
        overlap_a, overlap_b = (t.filter(pc.greater_equal(t["block_number"], 637)) for t in (a, b))
        overlap_b = overlap_b.filter(pc.less_equal(overlap_b["block_number"], 999))
        assert overlap_a.num_rows > 0
        assert overlap_a.equals(overlap_b), dataset


#: Digests of the values of blocks 0..99 for each STUB_VERSION: a change of values must bump it.
PINNED = {
    "1": {
        "blocks": (100, "d768fc72f1a2b97689c9ac6c2a919142f8ab8906a63f47653ef1a3572b3cd27a"),
        "transactions": (417, "0013db5cb0f4ed4af1dc7c4ca24e69b58e16837a56259b1116679375366cd32f"),
        "logs": (839, "f339ffd7aafb68ea381e2091fc3e504b02517acf70485e9dbc7b83e765f6eb29"),
        "traces": (829, "a68bf1323e401abfcd7239abf04f3047eb91f201a3483f9708dda7b89d8f311c"),
    },
}
PINNED["2"] = PINNED["1"]  # the same values, written with fewer statistics


@pytest.mark.parametrize("dataset", DATASETS)
def test_values_are_pinned_to_the_stub_version(dataset: str) -> None:
    table = chunk_table(dataset, CHAIN_ID, 0, 99)
    digest = hashlib.sha256(repr(table.to_pydict()).encode()).hexdigest()
    assert (table.num_rows, digest) == PINNED[STUB_VERSION][dataset]


def test_another_chain_is_another_chain() -> None:
    ours = chunk_table("blocks", CHAIN_ID, 0, 9)["block_hash"].to_pylist()
    theirs = chunk_table("blocks", 1, 0, 9)
    assert set(theirs["chain_id"].to_pylist()) == {1}
    assert not set(ours) & set(theirs["block_hash"].to_pylist())


# --- files ----------------------------------------------------------------------------------------


def test_chunks_file_names_and_an_uneven_last_chunk(tmp_path: Path) -> None:
    calls = []
    written = write_chunks(["blocks", "logs"], CHAIN_ID, 5, 2_504, 1_000, tmp_path, on_chunk=calls.append)
    names = ["00000005_to_00001004", "00001005_to_00002004", "00002005_to_00002504"]
    assert written == {d: [tmp_path / f"{CHAIN_ID}__{d}__{n}.parquet" for n in names] for d in ("blocks", "logs")}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for paths in written.values() for p in paths)
    assert calls == [Chunk(5, 1_004), Chunk(1_005, 2_004), Chunk(2_005, 2_504)]
    for path, (first, last) in zip(written["blocks"], [(5, 1_004), (1_005, 2_004), (2_005, 2_504)]):
        assert pq.read_table(path)["block_number"].to_pylist() == list(range(first, last + 1))
    for path in written["logs"]:
        first, last = (int(n) for n in path.stem.split("__")[2].split("_to_"))
        block_numbers = pq.read_table(path)["block_number"]
        assert first <= pc.min(block_numbers).as_py() and pc.max(block_numbers).as_py() <= last


def test_a_chunk_of_one_empty_block_writes_empty_tables(tmp_path: Path) -> None:
    blocks = chunk_table("blocks", CHAIN_ID, 0, 999)
    empty = blocks["block_number"][pc.index(blocks["gas_used"], 0).as_py()].as_py()
    written = write_chunks(DATASETS, CHAIN_ID, empty, empty, 1, tmp_path)
    assert pq.read_table(written["blocks"][0]).num_rows == 1
    for dataset in ("transactions", "logs", "traces"):
        table = pq.read_table(written[dataset][0])
        assert table.num_rows == 0 and table.schema.equals(SCHEMAS[dataset])


def test_the_same_range_writes_the_same_bytes(tmp_path: Path) -> None:
    (tmp_path / "one").mkdir(), (tmp_path / "two").mkdir()
    one = write_chunks(DATASETS, CHAIN_ID, 100, 1_599, 500, tmp_path / "one")
    two = write_chunks(DATASETS, CHAIN_ID, 100, 1_599, 500, tmp_path / "two")
    for dataset in DATASETS:
        assert [p.name for p in one[dataset]] == [p.name for p in two[dataset]]
        assert [p.read_bytes() for p in one[dataset]] == [p.read_bytes() for p in two[dataset]]


def test_a_failing_heartbeat_stops_after_whole_files(tmp_path: Path) -> None:
    def cancel(chunk: Chunk) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_chunks(DATASETS, CHAIN_ID, 0, 2_999, 1_000, tmp_path, on_chunk=cancel)
    expected = sorted(Chunk(0, 999).file_name(CHAIN_ID, dataset) for dataset in DATASETS)
    assert sorted(p.name for p in tmp_path.iterdir()) == expected


@pytest.mark.parametrize(
    ("compression", "codec"),
    [
        ("lz4", "LZ4"),
        ("snappy", "SNAPPY"),
        ("uncompressed", "UNCOMPRESSED"),
        ("zstd", "ZSTD"),
        ("zstd:3", "ZSTD"),
        ("gzip:6", "GZIP"),
        ("brotli", "BROTLI"),
    ],
)
def test_compression(compression: str, codec: str, tmp_path: Path) -> None:
    [path] = write_chunks(["logs"], CHAIN_ID, 0, 99, 100, tmp_path, Compression.parse(compression))["logs"]
    metadata = pq.ParquetFile(path).metadata
    assert {metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)} == {codec}
    assert pq.read_table(path).equals(chunk_table("logs", CHAIN_ID, 0, 99))


def test_row_group_size(tmp_path: Path) -> None:
    [path] = write_chunks(["traces"], CHAIN_ID, 0, 99, 100, tmp_path, row_group_size=100)["traces"]
    rows = chunk_table("traces", CHAIN_ID, 0, 99).num_rows
    assert pq.ParquetFile(path).metadata.num_row_groups == -(-rows // 100)
    (tmp_path / "whole").mkdir()
    [whole] = write_chunks(["traces"], CHAIN_ID, 0, 99, 100, tmp_path / "whole")["traces"]
    assert pq.ParquetFile(whole).metadata.num_row_groups == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"datasets": ["txs"]}, "the stub extractor has no dataset 'txs'; it has blocks, transactions, logs, traces"),
        (
            {"compression": "lz4_raw"},
            "compression 'lz4_raw' is not one Cryo writes: use lz4, snappy, uncompressed, zstd, gzip, brotli, "
            "the last three with an optional level as zstd:3",
        ),
        ({"compression": "snappy:3"}, "compression snappy takes no level"),
        ({"chunk_size": 0}, "chunk_size must be an integer of at least 1, not 0"),
        (
            {"start": 10},
            "blocks 10..9 are not a range: start and end are integers with 0 <= start <= end (end is inclusive)",
        ),
        (
            {"end": MAX_BLOCK + 1},
            f"blocks 0..{MAX_BLOCK + 1} go past the stub's last block, {MAX_BLOCK}",
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str, tmp_path: Path) -> None:
    arguments = {
        "datasets": ["blocks"],
        "chain_id": CHAIN_ID,
        "start": 0,
        "end": 9,
        "chunk_size": 10,
        "out_dir": tmp_path,
    }
    arguments.update(kwargs)
    with pytest.raises(FatalError) as raised:
        if "compression" in arguments:
            arguments["compression"] = Compression.parse(arguments["compression"])
        write_chunks(**arguments)
    assert str(raised.value) == message
    assert list(tmp_path.iterdir()) == []


# --- the extractor --------------------------------------------------------------------------------


def test_the_extractor_writes_the_request_and_checks_in_after_each_chunk(tmp_path: Path) -> None:
    beats = []
    ctx = TaskContext("task", 1, None, tmp_path, logging.getLogger(__name__), heartbeat=lambda: beats.append(1))
    output = OutputOptions(compression=Compression.parse("zstd:3"), row_group_size=100)
    request = ExtractRequest(CHAIN_ID, ("blocks", "traces"), 0, 2_499, 1_000, output, Throughput(), tmp_path)
    written = StubExtractor().extract(request, ctx)
    chunks = [Chunk(0, 999), Chunk(1_000, 1_999), Chunk(2_000, 2_499)]
    assert written == {d: [tmp_path / c.file_name(CHAIN_ID, d) for c in chunks] for d in request.datasets}
    assert len(beats) == 3
    metadata = pq.ParquetFile(written["traces"][0]).metadata
    assert metadata.num_row_groups > 1 and metadata.row_group(0).column(0).compression == "ZSTD"
    assert StubExtractor.name == "stub" and StubExtractor.version == STUB_VERSION

    (tmp_path / "cancelled").mkdir()
    ctx.cancel.set()
    with pytest.raises(Cancelled):
        StubExtractor().extract(replace(request, out_dir=tmp_path / "cancelled"), ctx)
    assert sorted(p.name for p in (tmp_path / "cancelled").iterdir()) == sorted(
        chunks[0].file_name(CHAIN_ID, d) for d in request.datasets
    )
