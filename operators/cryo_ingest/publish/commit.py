"""The replace commit protocol: Parquet files, then `_manifest.json`, then `_SUCCESS` last."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from cryo_ingest.publish.layout import MANIFEST, SUCCESS, Target
from cryo_ingest.publish.versions import canonical_json
from trace_operators.contract import ObjectStore, Publication


def _file_entry(key: str, path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return {
        "key": key,
        "bytes": path.stat().st_size,
        "rows": pq.read_metadata(path).num_rows,
        "sha256": digest.hexdigest(),
    }


def _marker(target: Target, files: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "chain_id": target.chain_id,
        "dataset": target.dataset,
        "range_start": target.start,
        "range_end": target.end,
        "config_hash": target.config_hash,
        "dataset_uuid": target.dataset_uuid,
        "dataset_version": target.dataset_version,
        "extractor": target.extractor,
        "extractor_version": target.extractor_version,
        "files": files,
    }


def _publication(store: ObjectStore, target: Target, files: list[dict[str, Any]]) -> Publication:
    return Publication(
        output_index=target.output_index,
        dataset=target.dataset,
        dataset_uuid=target.dataset_uuid,
        dataset_version=target.dataset_version,
        storage_ref=store.ref(target.prefix),
        config_hash=target.config_hash,
        range_start=target.start,
        range_end=target.end,
        row_count=sum(f["rows"] for f in files),
        bytes=sum(f["bytes"] for f in files),
    )


def _listed_files(raw: bytes, target: Target) -> list[dict[str, Any]] | None:
    """The files of a marker that commits exactly `target`; None for any other marker."""
    try:
        marker = json.loads(raw)
        files: list[dict[str, Any]] = marker["files"]
        if marker != _marker(target, files) or not all(
            isinstance(f["key"], str) and isinstance(f["bytes"], int) and isinstance(f["rows"], int) for f in files
        ):
            return None
    except (ValueError, TypeError, KeyError):
        return None
    return files


def find_published(store: ObjectStore, target: Target) -> Publication | None:
    """The committed publication of `target`, if `_SUCCESS` is there and every file it lists is whole."""
    raw = store.get_bytes(target.prefix + SUCCESS)
    files = None if raw is None else _listed_files(raw, target)
    if files is None:
        return None
    present = store.list_sizes(target.prefix)
    if target.prefix + MANIFEST not in present or any(present.get(f["key"]) != f["bytes"] for f in files):
        return None
    return _publication(store, target, files)


def publish(
    store: ObjectStore, target: Target, paths: Sequence[Path], checkpoint: Callable[[], None] = lambda: None
) -> Publication:
    """Upload the staged chunk files, the manifest, and the marker last; return the publication."""
    files = []
    for path in paths:
        key = target.prefix + path.name
        files.append(_file_entry(key, path))
        store.put_file(key, path)
        checkpoint()
    manifest = {
        "version": 1,
        "dataset_uuid": target.dataset_uuid,
        "dataset_version": target.dataset_version,
        "parquet_keys": sorted(f["key"] for f in files),
    }
    store.put_bytes(target.prefix + MANIFEST, json.dumps(manifest, separators=(",", ":")).encode())
    store.put_bytes(target.prefix + SUCCESS, canonical_json(_marker(target, files)).encode())
    return _publication(store, target, files)
