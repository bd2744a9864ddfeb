"""The Arrow schemas of the Parquet files Cryo 0.3.2 writes with its default columns.

Read from files the real wheel wrote from an anvil chain (`tests/test_stub.py` checks them again
against a fresh extraction). Column order is the order in the file, which is not the order in Cryo's
documentation; every column is nullable. Transactions carry `transaction_index` as uint64 while logs
and traces carry it as uint32: that is what Cryo writes, not a typo. The blocks dataset has no
`parent_hash` column by default.
"""

from __future__ import annotations

import pyarrow as pa

_BIN = pa.large_binary()
_STR = pa.large_string()
_U32 = pa.uint32()
_U64 = pa.uint64()

BLOCKS = pa.schema(
    [
        ("block_hash", _BIN),
        ("author", _BIN),
        ("block_number", _U32),
        ("gas_used", _U64),
        ("extra_data", _BIN),
        ("timestamp", _U32),
        ("base_fee_per_gas", _U64),
        ("chain_id", _U64),
    ]
)

TRANSACTIONS = pa.schema(
    [
        ("block_number", _U32),
        ("transaction_index", _U64),
        ("transaction_hash", _BIN),
        ("nonce", _U64),
        ("from_address", _BIN),
        ("to_address", _BIN),
        ("value_binary", _BIN),
        ("value_string", _STR),
        ("value_f64", pa.float64()),
        ("input", _BIN),
        ("gas_limit", _U64),
        ("gas_used", _U64),
        ("gas_price", _U64),
        ("transaction_type", _U32),
        ("max_priority_fee_per_gas", _U64),
        ("max_fee_per_gas", _U64),
        ("success", pa.bool_()),
        ("n_input_bytes", _U32),
        ("n_input_zero_bytes", _U32),
        ("n_input_nonzero_bytes", _U32),
        ("chain_id", _U64),
    ]
)

LOGS = pa.schema(
    [
        ("block_number", _U32),
        ("transaction_index", _U32),
        ("log_index", _U32),
        ("transaction_hash", _BIN),
        ("address", _BIN),
        ("topic0", _BIN),
        ("topic1", _BIN),
        ("topic2", _BIN),
        ("topic3", _BIN),
        ("data", _BIN),
        ("chain_id", _U64),
    ]
)

TRACES = pa.schema(
    [
        ("action_from", _BIN),
        ("action_to", _BIN),
        ("action_value", _STR),
        ("action_gas", _U32),
        ("action_input", _BIN),
        ("action_call_type", _STR),
        ("action_init", _BIN),
        ("action_reward_type", _STR),
        ("action_type", _STR),
        ("result_gas_used", _U32),
        ("result_output", _BIN),
        ("result_code", _BIN),
        ("result_address", _BIN),
        ("trace_address", _STR),
        ("subtraces", _U32),
        ("transaction_index", _U32),
        ("transaction_hash", _BIN),
        ("block_number", _U32),
        ("block_hash", _BIN),
        ("error", _STR),
        ("chain_id", _U64),
    ]
)

#: Default-column schema of each dataset, by Cryo's dataset name.
SCHEMAS: dict[str, pa.Schema] = {
    "blocks": BLOCKS,
    "transactions": TRANSACTIONS,
    "logs": LOGS,
    "traces": TRACES,
}
