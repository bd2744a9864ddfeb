"""`_SUCCESS` and `_manifest.json` as data: written canonically, read back strictly (SPEC §5)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryo_ingest.publish.layout import Target
from cryo_ingest.publish.versions import canonical_json

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MarkerError(ValueError):
    """A marker or manifest that does not commit its target; the message says what is wrong."""


@dataclass(frozen=True)
class FileEntry:
    """One Parquet file as `_SUCCESS` lists it."""

    key: str
    bytes: int
    rows: int
    sha256: str


def file_entry(key: str, path: Path, rows: int | None = None) -> FileEntry:
    """The entry of a staged file: its size, its rows from the Parquet footer (unless already read), its SHA-256."""
    if rows is None:
        import pyarrow.parquet as pq

        rows = pq.read_metadata(path).num_rows
    return FileEntry(key, path.stat().st_size, rows, sha256_file(path))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def marker_bytes(target: Target, files: Sequence[FileEntry]) -> bytes:
    """The `_SUCCESS` of `target` listing `files`: no timestamps, so a rerun writes the same bytes."""
    return canonical_json(_marker(target, files)).encode()


def manifest_bytes(target: Target, files: Sequence[FileEntry]) -> bytes:
    """The `_manifest.json` of `target`: exactly the fields the Query Service accepts."""
    manifest = {
        "version": 1,
        "dataset_uuid": target.dataset_uuid,
        "dataset_version": target.dataset_version,
        "parquet_keys": sorted(f.key for f in files),
    }
    return json.dumps(manifest, separators=(",", ":")).encode()


def parse_marker(raw: bytes, target: Target) -> tuple[FileEntry, ...]:
    """The files of a marker that commits exactly `target` and its chunk files; `MarkerError` otherwise."""
    try:
        marker = json.loads(raw)
        listed = marker["files"]
        files = tuple(_entry(item) for item in listed)
    except (ValueError, TypeError, KeyError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise MarkerError(f"_SUCCESS is not a marker ({_why(error)})") from None
    keys = [f.key for f in files]
    if keys != list(target.file_keys):
        raise MarkerError(
            f"_SUCCESS lists {len(keys)} file(s) ({_difference(keys, target.file_keys)}), "
            f"not the {len(target.file_keys)} chunk file(s) of blocks {target.start}..{target.end}"
        )
    if raw != marker_bytes(target, files):
        wrong = sorted(k for k, v in _marker(target, files).items() if marker.get(k) != v) or ["its layout"]
        raise MarkerError(f"_SUCCESS does not commit this version: {', '.join(wrong)} differ")
    return files


def check_manifest(raw: bytes | None, target: Target, files: Sequence[FileEntry]) -> None:
    """`MarkerError` unless `_manifest.json` is the one `_SUCCESS` implies, byte for byte."""
    if raw is None:
        raise MarkerError("_manifest.json is missing")
    if raw != manifest_bytes(target, files):
        raise MarkerError("_manifest.json does not list the files of _SUCCESS")


def _marker(target: Target, files: Sequence[FileEntry]) -> dict[str, Any]:
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
        "files": [asdict(f) for f in files],
        "row_count": sum(f.rows for f in files),
        "bytes": sum(f.bytes for f in files),
    }


def _entry(item: Any) -> FileEntry:
    """A file entry with exactly its four fields, each of its type; `ValueError` otherwise."""
    if not isinstance(item, dict) or set(item) != {"key", "bytes", "rows", "sha256"}:
        raise ValueError("a file entry needs exactly key, bytes, rows and sha256")
    entry = FileEntry(**item)
    sizes = (entry.bytes, entry.rows)
    if not isinstance(entry.key, str) or any(type(n) is not int or n < 0 for n in sizes):
        raise ValueError(f"file entry {entry.key!r} has a wrong type or a negative count")
    if not isinstance(entry.sha256, str) or not _SHA256.match(entry.sha256):
        raise ValueError(f"file entry {entry.key!r} has no lowercase hex SHA-256")
    return entry


def _difference(keys: Sequence[str], expected: Sequence[str]) -> str:
    extra = sorted(set(keys) - set(expected))
    missing = sorted(set(expected) - set(keys))
    duplicated = len(keys) - len(set(keys))
    parts = [f"{len(missing)} missing" if missing else "", f"{len(extra)} unexpected" if extra else ""]
    parts.append(f"{duplicated} listed twice" if duplicated else "")
    return ", ".join(p for p in parts if p) or "out of order"


def _why(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "nested too deep"
    return "missing field 'files'" if isinstance(error, KeyError) else str(error).split("\n")[0][:200]
