"""The synthetic chain as documented for benchmarks and tests, without pyarrow (`plan` and `validate` read it).

- each block has 0 to 8 transactions (uniform: mean 4, one block in nine empty);
- each transaction has 1 to 3 logs and 1 to 3 traces: a top-level call (or create, one transaction in
  sixteen) and its direct subcalls; every transaction succeeds;
- block n has timestamp 1,700,000,000 + n and its parent is block n - 1 (`parent_hashes`); Cryo's
  default blocks columns carry no parent hash, so the files show the chain only through block hashes;
- a log's and a trace's `transaction_hash` and `transaction_index` are those of a transaction of the
  same block; a block's `gas_used` is the sum of its transactions'; fees follow the block's base fee.
"""

from __future__ import annotations

from trace_operators.contract import FatalError, Partition

#: Bump whenever the bytes written for the same inputs change: it is part of the config hash
#: (2: statistics on block_number and chain_id only).
STUB_VERSION = "2"
DATASETS: tuple[str, ...] = ("blocks", "transactions", "logs", "traces")

GENESIS_TIMESTAMP = 1_700_000_000
#: Block numbers and timestamps are uint32 in Cryo's files: the stub's one bound beyond a Partition's own.
MAX_BLOCK = 2**32 - 1 - GENESIS_TIMESTAMP
MAX_TRANSACTIONS = 8
MAX_LOGS = 3
MAX_TRACES = 3
GWEI = 10**9


def check_dataset(dataset: str) -> str:
    """`dataset`, if the stub writes it."""
    if dataset not in DATASETS:
        raise FatalError(f"the stub extractor has no dataset {dataset!r}; it has {', '.join(DATASETS)}")
    return dataset


def stub_blocks(first: int, last: int) -> Partition:
    """Blocks `first..last` (inclusive), if they are a range the stub's columns can hold."""
    blocks = Partition(first, last)
    if blocks.end > MAX_BLOCK:
        raise FatalError(f"blocks {first}..{last} go past the stub's last block, {MAX_BLOCK}")
    return blocks
