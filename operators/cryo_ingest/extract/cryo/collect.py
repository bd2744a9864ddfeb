"""What Cryo wrote: its count of failed chunks says nothing of which, so the files that are missing tell."""

from __future__ import annotations

from pathlib import Path

from cryo_ingest.extract.cryo.child import ChildResult
from cryo_ingest.publish.layout import Chunk
from trace_operators.contract import RetryableError


def collect_files(
    out_dir: Path, chain_id: int, datasets: tuple[str, ...], chunks: list[Chunk], result: ChildResult, pool: str
) -> dict[str, list[Path]]:
    """Every chunk file of every dataset, in block order; `RetryableError` naming the missing ranges."""
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
        said = f"; Cryo said: {result.said}" if result.said else ""
        raise RetryableError(f"Cryo failed {errored} chunk(s) reading pool {pool}; missing: {ranges or 'none'}{said}")
    return files
