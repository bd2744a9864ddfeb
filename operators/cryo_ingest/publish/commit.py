"""The commit protocol: Parquet files, then `_manifest.json`, then `_SUCCESS` last, created only if absent.

Of two writers racing on one prefix, the first `_SUCCESS` wins; the other returns it when it lists the
same bytes, and removes it otherwise, since its own uploads may have replaced files under it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from cryo_ingest.publish.audit import look
from cryo_ingest.publish.layout import MANIFEST, SUCCESS, Target
from cryo_ingest.publish.marker import FileEntry, file_entry, manifest_bytes, marker_bytes
from trace_operators.contract import ObjectStore, Publication, RetryableError


def find_published(store: ObjectStore, target: Target) -> Publication | None:
    """The committed publication of `target`, if `_SUCCESS` is there and the prefix holds what it lists.

    What a writer killed beside a committed marker left half-written goes: nothing reads it, but it must
    not stay forever.
    """
    files = look(store, target).files
    if files is None:
        return None
    store.abort_incomplete(target.prefix)
    return _publication(store, target, files)


def publish(
    store: ObjectStore,
    target: Target,
    paths: Sequence[Path],
    checkpoint: Callable[[], None] = lambda: None,
    rows: Mapping[Path, int] | None = None,
) -> Publication:
    """Upload the staged chunk files, the manifest, and the marker last; return the publication."""
    # `rows`: each file's rows when the checks read its footer already, so it is read once.
    files = tuple(file_entry(target.prefix + path.name, path, (rows or {}).get(path)) for path in paths)
    if [f.key for f in files] != list(target.file_keys):
        raise RetryableError(
            f"{target.dataset} of blocks {target.start}..{target.end}: the extractor wrote {len(files)} file(s), "
            f"not the {len(target.file_keys)} chunk file(s) planned"
        )
    if (committed := _clear(store, target)) is not None:
        return committed
    for path, entry in zip(paths, files):
        store.put_file(entry.key, path)
        checkpoint()
    store.put_bytes(target.prefix + MANIFEST, manifest_bytes(target, files))
    if store.create_bytes(target.prefix + SUCCESS, marker_bytes(target, files)):
        return _publication(store, target, files)
    return _settle(store, target, files)


def _clear(store: ObjectStore, target: Target) -> Publication | None:
    """Make the prefix ready for a fresh commit: what a dead writer left, a damaged marker and strays removed.

    Returns the publication instead when another writer committed the prefix meanwhile.
    """
    store.abort_incomplete(target.prefix)
    found = look(store, target)
    if found.files is not None:
        return _publication(store, target, found.files)
    if found.marked:
        store.delete([target.prefix + SUCCESS])  # first: readers must stop trusting the prefix before it changes
    keep = {*target.file_keys, target.prefix + MANIFEST}
    store.delete(sorted(key for key in found.present if key not in keep | {target.prefix + SUCCESS}))
    return None


def _settle(store: ObjectStore, target: Target, files: tuple[FileEntry, ...]) -> Publication:
    """Another writer's `_SUCCESS` got there first: return it if it lists our bytes, else uncommit it."""
    if look(store, target).files == files:
        return _publication(store, target, files)
    store.delete([target.prefix + SUCCESS])
    raise RetryableError(
        f"{target.dataset} of blocks {target.start}..{target.end}: another attempt committed other bytes to "
        f"version {target.dataset_version} at the same time; its marker was removed so that a retry commits "
        "one writer's files"
    )


def _publication(store: ObjectStore, target: Target, files: Sequence[FileEntry]) -> Publication:
    return Publication(
        output_index=target.output_index,
        dataset=target.dataset,
        dataset_uuid=target.dataset_uuid,
        dataset_version=target.dataset_version,
        storage_ref=store.ref(target.prefix),
        config_hash=target.config_hash,
        range_start=target.start,
        range_end=target.end,
        row_count=sum(f.rows for f in files),
        bytes=sum(f.bytes for f in files),
    )
