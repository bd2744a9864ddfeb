"""What each command says about itself in `--help`: a summary, what it does, an example, its exit codes."""

from __future__ import annotations

import argparse
import textwrap
from dataclasses import dataclass
from importlib import metadata
from typing import Any

_USAGE = "2 usage: a bad flag, a DAG that does not validate, no such job"


@dataclass(frozen=True)
class Usage:
    """One command's help: `summary` is its line in the command list."""

    summary: str
    description: str
    example: str
    exits: tuple[str, ...]

    def parser_texts(self) -> dict[str, Any]:
        """The keyword arguments of `add_parser` that show this help."""
        exits = "\n".join(f"  {line}" for line in self.exits)
        return {
            "help": self.summary,
            "description": textwrap.fill(self.description, 88),  # the raw formatter keeps the epilog's layout
            "epilog": f"example:\n  {self.example}\n\nexit status:\n{exits}",
            "formatter_class": argparse.RawDescriptionHelpFormatter,
        }


USAGES = {
    "validate": Usage(
        "validate DAG files and folders (*.yaml, *.yml)",
        "Check DAG files as CI does: YAML, DAG structure, every job block against its operator's schema and "
        "rules, and secrets anywhere. One line a problem, file:line:col: severity [rule] message.",
        "cryo-ingest validate dags/",
        ("0 valid (warnings allowed)", "1 problems found", "2 usage"),
    ),
    "schema": Usage(
        "print the job block's JSON Schema",
        "Print the JSON Schema of a cryo_ingest job block (schemas/dag.schema.json holds a whole DAG's).",
        "cryo-ingest schema > cryo_ingest.job.schema.json",
        ("0 printed",),
    ),
    "plan": Usage(
        "list partitions with their prefixes and versions; touches nothing",
        "List the partitions a run would publish, each dataset's version prefix beside it. Reads nothing "
        "from the chain and writes nothing.",
        "cryo-ingest plan dags/monad.yaml --job monad_blocks --start-block 0 --end-block 99999",
        ("0 listed", _USAGE),
    ),
    "run": Usage(
        "run every partition, here or on a Ray cluster, and print a summary",
        "Extract and publish every partition of the range, at most scaling.max_concurrency at once. "
        "Partitions already published with the same config are reused, so a rerun does only what is missing.",
        "cryo-ingest run dags/monad.yaml --job monad_blocks --extractor cryo --store s3://bucket/prefix",
        (
            "0 every partition published",
            "1 a partition failed (the summary names it; rerun to retry only the failures)",
            _USAGE,
            "130 interrupted (Ctrl-C): what was published stays published",
        ),
    ),
    "files": Usage(
        "the current view: committed files of the job's current config, each block once",
        "Print the object URLs a reader should read for one dataset: the committed files of the job's "
        "current config, each block exactly once.",
        "cryo-ingest files dags/monad.yaml --job monad_blocks --dataset blocks --store s3://bucket/prefix",
        ("0 listed (maybe none)", _USAGE),
    ),
    "status": Usage(
        "published, damaged and missing ranges per dataset; exit 1 when not complete",
        "Show, per dataset, which ranges of the job are published, damaged or missing in the store.",
        "cryo-ingest status dags/monad.yaml --job monad_blocks --store s3://bucket/prefix",
        ("0 every block published", "1 gaps or damage", _USAGE),
    ),
    "verify": Usage(
        "deep check of every committed prefix of the range; exit 1 on damage",
        "Check every committed prefix of the range deeply: SHA-256 and Parquet footers of each file, the "
        "marker against the manifest, stray files. --repair republishes each damaged partition byte-identically.",
        "cryo-ingest verify dags/monad.yaml --job monad_blocks --store s3://bucket/prefix --repair",
        ("0 clean (or repaired)", "1 damage found (or left after --repair)", _USAGE),
    ),
    "task": Usage(
        "the container entry: one task JSON in, a TaskResult JSON out",
        "Run one task of the platform's contract: a task JSON in (a file, or - for standard input), "
        "its TaskResult JSON on standard output.",
        "cryo-ingest task task.json --store s3://bucket/prefix",
        ("0 success", "1 fatal: retrying cannot help", "75 retryable: run the task again"),
    ),
    "follow": Usage(
        "drive a job whose input is a cron source or a block_follower until stopped (SIGINT, SIGTERM)",
        "Run a job on its trigger: each cron tick, or each threshold of new safe blocks of a block_follower, "
        "publishes the blocks at or below the safe head. Resumes after a restart from what is published.",
        "cryo-ingest follow dags/monad_live.yaml --job monad_live --extractor cryo --store s3://bucket/prefix",
        ("0 stopped cleanly (SIGINT, SIGTERM)", "1 a run failed for good", _USAGE),
    ),
}


def version() -> str:
    """This distribution's version, and Cryo's when it is installed."""
    ours = f"cryo-ingest {metadata.version('cryo-ingest')}"
    try:
        return f"{ours} (cryo {metadata.version('cryo')})"
    except metadata.PackageNotFoundError:
        return f"{ours} (cryo not installed: pip install 'cryo-ingest[cryo]')"


class VersionAction(argparse.Action):
    """`--version`: the versions are looked up only when asked (reading package metadata costs ~0.1 s)."""

    def __init__(self, option_strings: list[str], dest: str, **_: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the versions and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(version())  # to stdout, as `--version` of most tools
        parser.exit()
