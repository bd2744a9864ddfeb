"""Row 2: ethereum-etl, the tool this replaces for many users, against our pipeline on the same node.

ethereum-etl exports blocks and transactions, then the receipts and logs of those transactions (its
documented two-step flow); we run blocks, transactions (which carry the receipt fields) and logs.
It lives in its own venv under `benchmarks/.cache/`, never among the project's dependencies.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from benchmarks import chain
from benchmarks.measure import CACHE, alternate, median, run, spread
from benchmarks.overhead_row import FIRST, LAST, fresh, pipeline
from benchmarks.table import Row

VENV = CACHE / "etl-venv"
ETL = VENV / "bin" / "ethereumetl"
#: ethereum-etl 2.4.2 pins eth-abi 2, whose parsimonious 0.8 calls `inspect.getargspec` (gone in
#: Python 3.11); parsimonious 0.9 works but breaks the pin, so it goes in after, without resolving.
INSTALL = (["ethereum-etl==2.4.2"], ["--no-deps", "parsimonious==0.9.0", "regex"])
DATASETS = ["blocks", "transactions", "logs"]


def ensure_etl() -> Path:
    """The `ethereumetl` command, installed into its own venv on first use."""
    if not ETL.exists():
        print(f"  installing ethereum-etl into {VENV} (once)", flush=True)
        run([sys.executable, "-m", "venv", "--clear", str(VENV)])
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        for packages in INSTALL:
            run(pip + packages)  # its output is shown only when it fails
    run([str(ETL), "--version"])
    return ETL


def etl_script(url: str, out: Path) -> str:
    """ethereum-etl's export of blocks, transactions, receipts and logs of the range, as one shell script."""
    etl, q = shlex.quote(str(ensure_etl())), lambda p: shlex.quote(str(out / p))
    return " && ".join(
        [
            f"{etl} export_blocks_and_transactions --start-block {FIRST} --end-block {LAST} --provider-uri {url} "
            f"--blocks-output {q('blocks.csv')} --transactions-output {q('transactions.csv')}",
            f"{etl} extract_csv_column --input {q('transactions.csv')} --column hash --output {q('hashes.txt')}",
            f"{etl} export_receipts_and_logs --transaction-hashes {q('hashes.txt')} --provider-uri {url} "
            f"--receipts-output {q('receipts.csv')} --logs-output {q('logs.csv')}",
        ]
    )


def measure(work: Path, quick: bool) -> list[Row]:
    ensure_etl()
    with chain.loaded() as node:
        ours_once = pipeline(work, node.url, DATASETS)

        def theirs() -> float:
            return run(["bash", "-c", etl_script(node.url, fresh(work / "etl"))]).seconds

        ours, etl = alternate(lambda: ours_once().seconds, theirs, 1 if quick else 2)
    print(f"  cryo-ingest run (blocks, transactions, logs): {spread(ours)}; ethereum-etl: {spread(etl)}")
    blocks = LAST - FIRST + 1
    return [
        Row(
            f"2 vs ethereum-etl, {blocks:,} blocks: blocks, txs, receipts, logs",
            f"{blocks / median(ours):,.0f} blocks/s",
            f"ethereum-etl: {blocks / median(etl):,.0f} blocks/s",
            f"{median(etl) / median(ours):.1f}x its speed",
            "-",
            None,
        )
    ]
