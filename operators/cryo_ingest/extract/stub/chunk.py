"""What the datasets of one chunk share, each column computed once, when first used.

Every dataset needs the transactions (a block's gas used is the sum of its transactions'), so the
builders of `tables` all take a `TransactionFacts`; `BlockFacts` alone is enough for block hashes.
"""

from __future__ import annotations

from functools import cached_property

import pyarrow as pa
import pyarrow.compute as pc

from cryo_ingest.extract.stub.draws import (
    Draw,
    Kind,
    arange,
    chain_seed,
    draw,
    expand,
    position_in,
    random_bytes,
    row_seeds,
    u64,
)
from cryo_ingest.extract.stub.pools import N_CALLS, N_EOAS, N_INITS, NULL, draw_contract, pools, where
from cryo_ingest.extract.stub.shape import GWEI, MAX_TRANSACTIONS, stub_blocks


class BlockFacts:
    """The blocks of one inclusive range of a chain: numbers, seeds, hashes and base fees."""

    def __init__(self, chain_id: int, first: int, last: int) -> None:
        self.chain_id = chain_id
        self.chain_seed = chain_seed(chain_id)
        self.block_number = pc.add(arange(stub_blocks(first, last).blocks), u64(first))

    def chain_ids(self, n: int) -> pa.Array:
        """The chain id, `n` times."""
        return pa.repeat(pa.scalar(self.chain_id, pa.uint64()), n)

    @cached_property
    def block_seed(self) -> pa.Array:
        return row_seeds(self.chain_seed, self.block_number, Kind.BLOCK)

    @cached_property
    def block_hash(self) -> pa.Array:
        return random_bytes(self.block_seed, 32)

    @cached_property
    def base_fee(self) -> pa.Array:
        return pc.add(draw(self.block_seed, Draw.BASE_FEE, GWEI), u64(GWEI // 2))


class TransactionFacts(BlockFacts):
    """The blocks, and the transactions laid out under them, as pool indices where values are pooled."""

    @cached_property
    def _tx_layout(self) -> tuple[pa.Array, pa.Array]:
        return expand(draw(self.block_seed, Draw.TX_COUNT, MAX_TRANSACTIONS + 1))

    @property
    def tx_block(self) -> pa.Array:
        """Per transaction, the position of its block in the chunk."""
        return self._tx_layout[0]

    @property
    def tx_offsets(self) -> pa.Array:
        """Per block, the position of its first transaction (and the count of all at the end)."""
        return self._tx_layout[1]

    @cached_property
    def tx_index(self) -> pa.Array:
        return position_in(self.tx_offsets, self.tx_block)

    @cached_property
    def tx_block_number(self) -> pa.Array:
        return pc.take(self.block_number, self.tx_block)

    @cached_property
    def tx_seed(self) -> pa.Array:
        return row_seeds(self.chain_seed, self.tx_block_number, Kind.TRANSACTION, self.tx_index)

    @cached_property
    def tx_hash(self) -> pa.Array:
        return random_bytes(self.tx_seed, 32)

    @cached_property
    def is_create(self) -> pa.Array:
        return pc.equal(draw(self.tx_seed, Draw.IS_CREATE, 16), u64(0))

    @cached_property
    def from_index(self) -> pa.Array:
        return draw(self.tx_seed, Draw.FROM, N_EOAS)

    @cached_property
    def to_index(self) -> pa.Array:
        return where(self.is_create, NULL, draw_contract(self.tx_seed, Draw.TO))

    @cached_property
    def addresses(self) -> pa.Array:
        """The pool's addresses, then the address each transaction of the chunk would create."""
        return pa.concat_arrays([pools().addresses, random_bytes(self.tx_seed, 20, Draw.CREATED_ADDRESS)])

    @cached_property
    def created_index(self) -> pa.Array:
        return pc.add(arange(len(self.tx_seed)), u64(len(pools().addresses)))

    @cached_property
    def callee_index(self) -> pa.Array:
        """The contract a transaction calls or creates."""
        return where(self.is_create, self.created_index, self.to_index)

    @cached_property
    def value_index(self) -> pa.Array:
        """Three transactions in four move no value (pool entry 0)."""
        values = len(pools().value_string)
        moving = pc.equal(draw(self.tx_seed, Draw.HAS_VALUE, 4), u64(0))
        return where(moving, pc.add(draw(self.tx_seed, Draw.VALUE, values - 1), u64(1)), u64(0))

    @cached_property
    def input_index(self) -> pa.Array:
        init = pc.add(draw(self.tx_seed, Draw.INIT, N_INITS), u64(N_CALLS))
        return where(self.is_create, init, draw(self.tx_seed, Draw.CALL, N_CALLS))

    @cached_property
    def intrinsic_gas(self) -> pa.Array:
        return pc.take(pools().intrinsic_gas, self.input_index)

    @cached_property
    def gas_used(self) -> pa.Array:
        execution = pc.add(draw(self.tx_seed, Draw.EXECUTION_GAS, 150_000), u64(20_000))
        return pc.add(self.intrinsic_gas, execution)

    @cached_property
    def gas_limit(self) -> pa.Array:
        return pc.add(self.gas_used, draw(self.tx_seed, Draw.SPARE_GAS, 100_000))


class Children:
    """Logs or traces: 1 to `most` rows per transaction, in transaction order within each block."""

    def __init__(self, txs: TransactionFacts, kind: Kind, count: Draw, most: int) -> None:
        self.txs = txs
        self.counts = pc.add(draw(txs.tx_seed, count, most), u64(1))
        self.tx, offsets = expand(self.counts)
        self.in_tx = position_in(offsets, self.tx)
        first_in_block = pc.take(offsets, pc.take(txs.tx_offsets, pc.take(txs.tx_block, self.tx)))
        self.in_block = pc.subtract(arange(len(self.tx)), first_in_block.cast(pa.uint64()))
        self.seed = row_seeds(txs.chain_seed, self.per_tx(txs.tx_block_number), kind, self.in_block)

    def per_tx(self, column: pa.Array) -> pa.Array:
        """A transactions' column, one value per child: its transaction's."""
        return pc.take(column, self.tx)

    def tx_columns(self) -> dict[str, pa.Array]:
        """The columns a log or trace shares with its transaction."""
        return {
            "block_number": self.per_tx(self.txs.tx_block_number),
            "transaction_index": self.per_tx(self.txs.tx_index),
            "transaction_hash": self.per_tx(self.txs.tx_hash),
            "chain_id": self.txs.chain_ids(len(self.tx)),
        }
