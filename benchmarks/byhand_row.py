"""Row 7: `cryo-ingest run --store s3://…` against doing it by hand: `cryo.freeze` into a directory, then an upload.

The by-hand run is the ten-line script a user writes today, in one fresh process: Row 1's `cryo.freeze`
of the range, then every file uploaded with boto3's transfer manager (concurrency 10) from a pool of
10 threads, as `aws s3 cp --recursive` does. Both write to moto's S3 server over HTTP on loopback, the
bucket emptied before each run, alternating. The upload alone is timed afterwards on the same files.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks import chain
from benchmarks.dags import DATASETS
from benchmarks.measure import Run, alternate, in_run_seconds, local_env, median, recorded, run, spread
from benchmarks.overhead_row import EXIT, FIRST, FREEZE_CALL, LAST, fresh, pipeline
from benchmarks.rerun_row import BUCKET, fresh_bucket, moto_server
from benchmarks.table import Row

TARGET = 0.85
#: The upload of `out`'s files under s3://BUCKET/PREFIX/, given as argv 6 and 7 (after FREEZE_CALL's five).
UPLOAD = (
    "import pathlib, boto3\n"
    "from concurrent.futures import ThreadPoolExecutor\n"
    "from boto3.s3.transfer import TransferConfig\n"
    "bucket, prefix, root = sys.argv[6], sys.argv[7], pathlib.Path(out)\n"
    "s3, config = boto3.client('s3'), TransferConfig(max_concurrency=10)\n"
    "def put(path):\n"
    "    s3.upload_file(str(path), bucket, f'{prefix}/{path.relative_to(root)}', Config=config)\n"
    "with ThreadPoolExecutor(10) as pool:\n"
    "    list(pool.map(put, [p for p in root.rglob('*') if p.is_file()]))\n"
)
BY_HAND = FREEZE_CALL + UPLOAD + EXIT
#: The upload on its own, of files already there: no `cryo.freeze`.
UPLOAD_ONLY = "import sys\nout = sys.argv[3]\n" + UPLOAD


def by_hand(work: Path, url: str, aws: dict[str, str]) -> Callable[[], Run]:
    """The by-hand script into an emptied bucket."""

    def once() -> Run:
        fresh_bucket(aws)
        out = fresh(work / "by-hand")
        argv = [json.dumps(DATASETS), url, str(out), str(FIRST), str(LAST), BUCKET, "by-hand"]
        return run([sys.executable, "-c", BY_HAND, *argv], local_env(work, **aws))

    return once


def upload_only(work: Path, aws: dict[str, str]) -> float:
    """Seconds of the by-hand upload alone, of the files the last by-hand run left."""
    fresh_bucket(aws)
    argv = ["-", "-", str(work / "by-hand"), "-", "-", BUCKET, "by-hand"]
    return run([sys.executable, "-c", UPLOAD_ONLY, *argv], local_env(work, **aws)).seconds


def measure(work: Path, quick: bool) -> list[Row]:
    with chain.loaded() as node, moto_server() as aws:

        def store() -> str:
            fresh_bucket(aws)
            return f"s3://{BUCKET}/cryo-data"

        ours_runs: list[Run] = []
        hand_runs: list[Run] = []
        ours_s, theirs_s = alternate(
            recorded(pipeline(work, node.url, DATASETS, store=store, env=aws), ours_runs),
            recorded(by_hand(work, node.url, aws), hand_runs),
            2 if quick else 3,
        )
        upload = upload_only(work, aws)
    files = sorted(p for p in (work / "by-hand").rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files) / 1024**2
    print(f"  the upload alone, {len(files)} files of {size:.0f} MiB, process start included: {upload:.2f} s")
    ratio = median(ours_s) / median(theirs_s)
    inside = median([in_run_seconds(r) for r in ours_runs])
    cpu, hand_cpu = median([r.cpu for r in ours_runs]), median([r.cpu for r in hand_runs])
    print(f"  cryo-ingest run to S3: {spread(ours_s)} ({inside:.2f} s in the runner), {cpu:.1f} CPU s")
    print(f"  by hand: {spread(theirs_s)}, {hand_cpu:.1f} CPU s (the S3 server's CPU is in neither)")
    return [
        Row(
            f"7 run to S3 (moto, HTTP) vs by hand, {LAST - FIRST + 1:,} blocks, 4 datasets",
            f"{median(ours_s):.2f} s",
            f"cryo.freeze + 10-thread upload: {median(theirs_s):.2f} s",
            f"{ratio:.2f}x its time",
            f"<= {TARGET}x",
            ratio <= TARGET,
        )
    ]
