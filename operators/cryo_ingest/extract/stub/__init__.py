"""The `stub` extractor (SPEC §6): a deterministic synthetic chain, written as Cryo writes Parquet.

`shape` documents the chain; `draws` and `pools` are what its values come from; `chunk` holds what a
chunk's datasets share and `tables` builds each dataset; `writer` writes them and `extractor` is the
`Extractor`. Only `shape` and `extractor` are imported here: neither loads pyarrow, which `plan` and
`validate` must not pay for; `extract` imports `writer` when it runs.
"""

from cryo_ingest.extract.stub.extractor import StubExtractor
from cryo_ingest.extract.stub.shape import DATASETS, STUB_VERSION

__all__ = ["DATASETS", "STUB_VERSION", "StubExtractor"]
