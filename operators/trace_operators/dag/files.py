"""Which files a validation reads: files as given, folders walked for YAML."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Iterator


def iter_yaml_files(paths: Iterable[pathlib.Path]) -> Iterator[pathlib.Path]:
    """Files as given; folders walked for `*.yaml` and `*.yml`, sorted, skipping hidden entries."""
    for path in paths:
        if not path.is_dir():
            yield path  # a missing path too: load_document reports it
            continue
        found: list[pathlib.Path] = []
        for folder, dirs, files in os.walk(path):
            dirs[:] = [name for name in dirs if not name.startswith(".")]
            found.extend(
                pathlib.Path(folder, name)
                for name in files
                if name.endswith((".yaml", ".yml")) and not name.startswith(".")
            )
        yield from sorted(found)
