"""What Cryo wrote: its count of failed chunks says nothing of which, so the files that are missing tell."""

from __future__ import annotations

import os
from pathlib import Path

from cryo_ingest.extract.base import PartialExtraction
from cryo_ingest.extract.cryo.child import ChildResult
from cryo_ingest.publish.layout import Chunk
from cryo_ingest.publish.staging import ROOT_VAR

#: A filesystem with less free than this, or than 1% of its size, after a failed chunk is taken as full:
#: Cryo says only "error writing file", and the files it wrote filled the disk up to the last block.
FULL_BELOW_BYTES = 16 << 20


def collect_files(
    out_dir: Path, chain_id: int, datasets: tuple[str, ...], chunks: list[Chunk], result: ChildResult, pool: str
) -> dict[str, list[Path]]:
    """Every chunk file of every dataset, in block order; `PartialExtraction` naming the missing ranges and why."""
    files = {dataset: [out_dir / chunk.file_name(chain_id, dataset) for chunk in chunks] for dataset in datasets}
    missing: dict[Chunk, list[str]] = {}
    for dataset, paths in files.items():
        for chunk, path in zip(chunks, paths):
            if not path.is_file():
                missing.setdefault(chunk, []).append(dataset)
    errored = result.summary.errored
    if missing or errored:
        ranges = "; ".join(
            f"blocks {chunk.first}..{chunk.last} ({', '.join(names)})" for chunk, names in sorted(missing.items())
        )
        failed = f"Cryo failed {errored} chunk(s) reading pool {pool}; missing: {ranges or 'none'}"
        if result.errors:
            failed += f"; Cryo's errors: {'; '.join(result.errors)}"
        if result.said:
            failed += f"; Cryo said: {result.said}"
        free = free_if_full(out_dir)
        if free is not None:
            failed = (
                f"no space left on the staging filesystem, writing {out_dir} ({free:,} bytes free): free space "
                f"there or set {ROOT_VAR} to a larger one; {failed}"
            )
        # With nothing missing, what Cryo counted as failed is unknown: then no dataset is taken as whole.
        incomplete = {name for names in missing.values() for name in names} if missing else set(datasets)
        raise PartialExtraction(failed, {name: paths for name, paths in files.items() if name not in incomplete})
    return files


def free_if_full(path: Path) -> int | None:
    """The bytes free on the filesystem of `path` when it is (nearly) full; None when it is not, or cannot tell."""
    try:
        fs = os.statvfs(path)
    except OSError:
        return None
    free = fs.f_bavail * fs.f_frsize
    return free if free < min(FULL_BELOW_BYTES, fs.f_blocks * fs.f_frsize // 100) else None
