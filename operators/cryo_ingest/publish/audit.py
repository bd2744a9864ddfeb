"""What a version's prefix holds, judged: the rerun's quick look, and `verify`'s deep one."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryo_ingest.publish.layout import MANIFEST, SUCCESS, Target
from cryo_ingest.publish.marker import FileEntry, MarkerError, check_manifest, parse_marker
from trace_operators.contract import ObjectStore


@dataclass(frozen=True)
class Look:
    """A prefix as a rerun sees it: committed and whole, or what is wrong with it."""

    #: The committed files, when `_SUCCESS` is there and the prefix holds exactly what it lists.
    files: tuple[FileEntry, ...] | None
    #: Why a prefix with a `_SUCCESS` is not committed; None when it is, or when it has no marker.
    problem: str | None
    #: Every object under the prefix, with its size.
    present: Mapping[str, int] = field(default_factory=dict)

    @property
    def marked(self) -> bool:
        return self.files is not None or self.problem is not None


def look(store: ObjectStore, target: Target) -> Look:
    """The quick check a rerun trusts: the marker well formed, agreeing with the manifest and the listing."""
    raw = store.get_bytes(target.prefix + SUCCESS)
    present = store.list_sizes(target.prefix)
    if raw is None:
        return Look(None, None, present)
    try:
        files = parse_marker(raw, target)
        check_manifest(store.get_bytes(target.prefix + MANIFEST), target, files)
        _check_listing(present, target, files)
    except MarkerError as error:
        return Look(None, str(error), present)
    return Look(files, None, present)


def deep_problems(store: ObjectStore, files: tuple[FileEntry, ...]) -> list[str]:
    """What is wrong with the committed files themselves: SHA-256 and Parquet footer of each."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    problems = []
    for entry in files:
        name = entry.key.rpartition("/")[2]
        data = store.get_bytes(entry.key)
        if data is None:
            problems.append(f"{name} is gone")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.sha256:
            problems.append(f"{name} has SHA-256 {digest[:12]}…, not {entry.sha256[:12]}…")
            continue
        try:
            rows = pq.read_metadata(io.BytesIO(data)).num_rows
        except (pa.ArrowException, OSError) as error:
            problems.append(f"{name} has no readable Parquet footer ({error})")
            continue
        if rows != entry.rows:
            problems.append(f"{name} holds {rows} rows, not the {entry.rows} of _SUCCESS")
    return problems


def _check_listing(present: Mapping[str, int], target: Target, files: tuple[FileEntry, ...]) -> None:
    """`MarkerError` unless the prefix holds the listed files with their sizes, the manifest and the marker only."""
    wrong = [f.key.rpartition("/")[2] for f in files if present.get(f.key) != f.bytes]
    if wrong:
        raise MarkerError(f"{len(wrong)} file(s) missing or of another size than _SUCCESS says: {', '.join(wrong)}")
    known = {f.key for f in files} | {target.prefix + MANIFEST, target.prefix + SUCCESS}
    stray = sorted(key.removeprefix(target.prefix) for key in present if key not in known)
    if stray:
        raise MarkerError(f"{len(stray)} object(s) that _SUCCESS does not list: {', '.join(stray[:5])}")
