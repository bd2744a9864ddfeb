"""The four datasets of a chunk, one builder each, with Cryo's default schemas."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from cryo_ingest.extract.cryo_schemas import SCHEMAS
from cryo_ingest.extract.stub.chunk import BlockFacts, Children, TransactionFacts
from cryo_ingest.extract.stub.draws import Draw, Kind, draw, sum_by, u64
from cryo_ingest.extract.stub.pools import CALL_TYPES, N_CALLS, N_EOAS, draw_contract, pools, where
from cryo_ingest.extract.stub.shape import GENESIS_TIMESTAMP, GWEI, MAX_LOGS, MAX_TRACES, check_dataset, stub_blocks


def blocks(chunk: TransactionFacts) -> pa.Table:
    """One row per block."""
    seed, pool = chunk.block_seed, pools()
    return _table(
        "blocks",
        {
            "block_hash": chunk.block_hash,
            "author": pc.take(pool.authors, draw(seed, Draw.AUTHOR, len(pool.authors))),
            "block_number": chunk.block_number,
            "gas_used": sum_by(chunk.gas_used, chunk.tx_offsets),
            "extra_data": pc.take(pool.extra_data, draw(seed, Draw.EXTRA_DATA, len(pool.extra_data))),
            "timestamp": pc.add(chunk.block_number, u64(GENESIS_TIMESTAMP)),
            "base_fee_per_gas": chunk.base_fee,
            "chain_id": chunk.chain_ids(len(seed)),
        },
    )


def transactions(chunk: TransactionFacts) -> pa.Table:
    """One row per transaction, fees following its block's base fee."""
    seed, pool, inputs = chunk.tx_seed, pools(), chunk.input_index
    tx_type = pc.take(pool.tx_types, draw(seed, Draw.TX_TYPE, len(pool.tx_types)))
    dynamic = pc.equal(tx_type, pa.scalar(2, pa.uint32()))
    tip = draw(seed, Draw.TIP, 2 * GWEI)
    base_fee = pc.take(chunk.base_fee, chunk.tx_block)
    return _table(
        "transactions",
        {
            "block_number": chunk.tx_block_number,
            "transaction_index": chunk.tx_index,
            "transaction_hash": chunk.tx_hash,
            "nonce": draw(seed, Draw.NONCE, 1 << 16),
            "from_address": pc.take(pool.addresses, chunk.from_index),
            "to_address": pc.take(pool.addresses, chunk.to_index),
            "value_binary": pc.take(pool.value_binary, chunk.value_index),
            "value_string": pc.take(pool.value_string, chunk.value_index),
            "value_f64": pc.take(pool.value_f64, chunk.value_index),
            "input": pc.take(pool.input_data, inputs),
            "gas_limit": chunk.gas_limit,
            "gas_used": chunk.gas_used,
            "gas_price": pc.add(base_fee, tip),
            "transaction_type": tx_type,
            "max_priority_fee_per_gas": where(dynamic, tip),
            "max_fee_per_gas": where(dynamic, pc.add(pc.multiply(base_fee, u64(2)), tip)),
            "success": pa.repeat(True, len(seed)),
            "n_input_bytes": pc.take(pool.input_bytes, inputs),
            "n_input_zero_bytes": pc.take(pool.input_zero_bytes, inputs),
            "n_input_nonzero_bytes": pc.take(pool.input_nonzero_bytes, inputs),
            "chain_id": chunk.chain_ids(len(seed)),
        },
    )


def logs(chunk: TransactionFacts) -> pa.Table:
    """1 to 3 logs per transaction, each an event whose topics after the first are EOAs."""
    rows = Children(chunk, Kind.LOG, Draw.LOG_COUNT, MAX_LOGS)
    seed, pool = rows.seed, pools()
    event = draw(seed, Draw.EVENT, len(pool.event_topic0))
    topic_count = pc.take(pool.event_topic_count, event)

    def topic(k: int, stream: Draw) -> pa.Array:
        """An EOA as a 32-byte word, where the event has a k-th topic."""
        present = pc.greater(topic_count, u64(k))
        return pc.take(pool.address_words, where(present, draw(seed, stream, N_EOAS)))

    return _table(
        "logs",
        {
            **rows.tx_columns(),
            "log_index": rows.in_block,
            "address": pc.take(pool.addresses, draw_contract(seed, Draw.LOG_ADDRESS)),
            "topic0": pc.take(pool.event_topic0, event),
            "topic1": topic(1, Draw.TOPIC1),
            "topic2": topic(2, Draw.TOPIC2),
            "topic3": topic(3, Draw.TOPIC3),
            "data": pc.take(pool.log_data, draw(seed, Draw.LOG_DATA, len(pool.log_data))),
        },
    )


def traces(chunk: TransactionFacts) -> pa.Table:
    """Per transaction a top-level call or create, then its direct subcalls to contracts of the pool."""
    rows = Children(chunk, Kind.TRACE, Draw.TRACE_COUNT, MAX_TRACES)
    seed, pool, per_tx, n = rows.seed, pools(), rows.per_tx, len(rows.tx)
    top = pc.equal(rows.in_tx, u64(0))
    create = pc.and_(top, per_tx(chunk.is_create))
    call = pc.invert(create)
    input_index = per_tx(chunk.input_index)
    from_index = where(top, per_tx(chunk.from_index), per_tx(chunk.callee_index))
    to_index = where(top, per_tx(chunk.to_index), draw_contract(seed, Draw.CALLEE))
    call_input = where(top, input_index, draw(seed, Draw.CALL, N_CALLS))
    call_type = where(top, u64(0), draw(seed, Draw.CALL_TYPE, len(CALL_TYPES)))
    intrinsic = per_tx(chunk.intrinsic_gas)
    gas = pc.subtract(per_tx(chunk.gas_limit), intrinsic)
    gas_used = pc.subtract(per_tx(chunk.gas_used), intrinsic)
    # A subcall gets at most 63/64 of the gas left; its siblings and it use at most half the parent's.
    child_gas = pc.divide(pc.multiply(gas, u64(63)), u64(64))
    child_gas_used = pc.divide(gas_used, u64(4))
    return _table(
        "traces",
        {
            **rows.tx_columns(),
            "action_from": pc.take(chunk.addresses, from_index),
            "action_to": pc.take(chunk.addresses, to_index),
            "action_value": pc.take(pool.value_string, where(top, per_tx(chunk.value_index), u64(0))),
            "action_gas": where(top, gas, child_gas),
            "action_input": pc.take(pool.input_data, where(call, call_input)),
            "action_call_type": pc.take(pool.call_types, where(call, call_type)),
            "action_init": pc.take(pool.input_data, where(create, input_index)),
            "action_reward_type": pa.nulls(n, pa.large_string()),
            "action_type": pc.take(pool.action_types, create.cast(pa.uint8())),
            "result_gas_used": where(top, gas_used, child_gas_used),
            "result_output": pc.take(pool.outputs, where(call, draw(seed, Draw.OUTPUT, len(pool.outputs)))),
            "result_code": pc.take(pool.deployed_code, where(create, input_index)),
            "result_address": pc.take(chunk.addresses, where(create, per_tx(chunk.created_index))),
            "trace_address": pc.take(pool.trace_addresses, rows.in_tx),
            "subtraces": where(top, pc.subtract(per_tx(rows.counts), u64(1)), u64(0)),
            "block_hash": pc.take(chunk.block_hash, per_tx(chunk.tx_block)),
            "error": pa.nulls(n, pa.large_string()),
        },
    )


#: Each dataset's builder, in `DATASETS` order.
BUILDERS: dict[str, Callable[[TransactionFacts], pa.Table]] = {
    "blocks": blocks,
    "transactions": transactions,
    "logs": logs,
    "traces": traces,
}


def chunk_table(dataset: str, chain_id: int, first: int, last: int) -> pa.Table:
    """The rows of `dataset` for blocks `first..last` (inclusive), with Cryo's default schema."""
    return BUILDERS[check_dataset(dataset)](TransactionFacts(chain_id, first, last))


def parent_hashes(chain_id: int, first: int, last: int) -> pa.Array:
    """The parent hash of each block `first..last`: the previous block's hash; 32 zero bytes for block 0."""
    blocks = stub_blocks(first, last)
    if blocks.start > 0:
        return BlockFacts(chain_id, first - 1, last - 1).block_hash
    genesis_parent = pa.array([bytes(32)], pa.large_binary())
    return pa.concat_arrays([genesis_parent, BlockFacts(chain_id, 0, last - 1).block_hash]) if last else genesis_parent


def _table(dataset: str, columns: dict[str, pa.Array]) -> pa.Table:
    """A table with Cryo's schema; integers are narrowed to it with overflow checks."""
    schema = SCHEMAS[dataset]
    assert columns.keys() == set(schema.names), columns.keys() ^ set(schema.names)
    return pa.Table.from_pydict(columns, schema=schema)
