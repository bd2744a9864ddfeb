"""The chunks Cryo has finished, seen in its output folder: it moves a chunk's file into place only once whole."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryo_ingest.publish.layout import Chunk


class ChunkWatch:
    """Reports the blocks of each chunk once, when every dataset's file of it is in `out_dir`."""

    def __init__(
        self,
        out_dir: Path,
        chain_id: int,
        datasets: tuple[str, ...],
        chunks: list[Chunk],
        report: Callable[[int], None],
    ) -> None:
        self._out_dir, self._report = out_dir, report
        self._waiting = {chunk: [chunk.file_name(chain_id, dataset) for dataset in datasets] for chunk in chunks}

    def look(self) -> None:
        """Report the chunks whole since the last look; one listing of the folder, however many chunks."""
        try:
            present = set(os.listdir(self._out_dir))
        except OSError:  # not made yet, or already cleaned up: nothing to report
            return
        for chunk, names in list(self._waiting.items()):
            if present.issuperset(names):
                del self._waiting[chunk]
                self._report(chunk.last - chunk.first + 1)
