"""Config hashes and dataset versions (SPEC §5): same inputs, same names, anywhere."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

#: The project's own UUIDv5 namespace; changing it would rename every published version.
NAMESPACE = uuid.UUID("e550e859-57ec-4b39-83ae-6d0bda3fb380")
#: Bump when the layout or the meaning of published objects changes (2: `_SUCCESS` holds its totals).
FORMAT_VERSION = 2


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def config_hash(hashed_config: Mapping[str, Any], extractor: str, extractor_version: str) -> str:
    """SHA-256 of one dataset's output-affecting config, the extractor and the format version."""
    payload = {
        **hashed_config,
        "extractor": extractor,
        "extractor_version": extractor_version,
        "format_version": FORMAT_VERSION,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def dataset_uuid(chain_id: int, dataset: str) -> str:
    """The default dataset uuid when the runtime gives none for the output."""
    return str(uuid.uuid5(NAMESPACE, f"cryo_ingest:{chain_id}:{dataset}"))


def dataset_version(uuid_: str, chain_id: int, dataset: str, start: int, end: int, hash_: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"cryo_ingest:{uuid_}:{chain_id}:{dataset}:{start}:{end}:{hash_}"))
