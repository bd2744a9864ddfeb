"""The `cryo` extractor: Cryo's Rust engine in a supervised child process (`import cryo` happens only there).

The exports are imported on first use: the child runs `python -m cryo_ingest.extract.cryo.child_main`,
which imports this package first and needs nothing of the parent's side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryo_ingest.extract.cryo.extractor import CryoExtractor, cryo_version

__all__ = ["CryoExtractor", "cryo_version"]


def __getattr__(name: str) -> Any:
    """`CryoExtractor` and `cryo_version`, from `extractor` when first asked for."""
    if name in __all__:
        from cryo_ingest.extract.cryo import extractor

        return getattr(extractor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
