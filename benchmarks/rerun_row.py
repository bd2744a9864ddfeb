"""Row 5: a rerun over an already published range, local store and S3 over HTTP (moto on loopback).

The baseline is the floor of any idempotent check: for each dataset version, read its `_SUCCESS`
and list its prefix, made directly (one thread, no process start) against the same store.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.dags import write_dag
from benchmarks.measure import Run, cli, in_run_seconds, local_env, median, run
from benchmarks.table import Row

PARTITION = 100
LOCAL_PARTITIONS = 500
S3_PARTITIONS = 100
TARGET = 500
BUCKET = "bench"


@contextmanager
def moto_server() -> Iterator[dict[str, str]]:
    """moto's S3 server on a free loopback port, with a bucket; yields the AWS environment to reach it."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line a request on stderr otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        aws = {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        fresh_bucket(aws)
        yield aws
    finally:
        server.stop()


def s3_client(aws: dict[str, str]) -> Any:
    """A boto3 S3 client of the server `aws` points at."""
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=aws["AWS_ENDPOINT_URL"],
        region_name=aws["AWS_DEFAULT_REGION"],
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )


def fresh_bucket(aws: dict[str, str]) -> None:
    """An empty bucket `BUCKET` on a server that forgets everything else (so memory does not pile up)."""
    request = urllib.request.Request(aws["AWS_ENDPOINT_URL"] + "/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass
    s3_client(aws).create_bucket(Bucket=BUCKET)


def publish_then_rerun(
    work: Path, partitions: int, store: str, aws: dict[str, str], reruns: int
) -> tuple[Run, list[Run]]:
    """The run that publishes `partitions` partitions of four datasets, then `reruns` reruns of it."""
    dag = write_dag(work / f"rerun-{partitions}.yaml", 0, partitions * PARTITION - 1, PARTITION, chunk_size=PARTITION)
    command = cli("run", dag, "--job", "bench", "--store", store)
    environment = local_env(work, **aws)
    first = run(command, environment)
    again = [run(command, environment) for _ in range(reruns)]
    for result in again:
        if f"{partitions * 4} dataset versions were already there" not in result.stdout:
            raise RuntimeError(f"the rerun published again: {result.stdout[-500:]}")
    return first, again


def local_floor(root: Path) -> float:
    """Seconds to read every `_SUCCESS` under `root` and list (with sizes) the folder holding it."""
    markers = sorted(root.rglob("_SUCCESS"))
    began = time.perf_counter()
    for marker in markers:
        marker.read_bytes()
        sizes = {entry.name: entry.stat().st_size for entry in os.scandir(marker.parent)}
        assert sizes
    return time.perf_counter() - began


def s3_floor(aws: dict[str, str], prefix: str) -> float:
    """Seconds to GET every `_SUCCESS` under `prefix` and LIST its version prefix, with one boto3 client."""
    s3 = s3_client(aws)
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    markers = [o["Key"] for page in pages for o in page.get("Contents", ()) if o["Key"].endswith("/_SUCCESS")]
    began = time.perf_counter()
    for key in markers:
        s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert s3.list_objects_v2(Bucket=BUCKET, Prefix=key.removesuffix("_SUCCESS"))["KeyCount"]
    return time.perf_counter() - began


def row(name: str, partitions: int, first: Run, again: list[Run], floor: float, target: int | None) -> Row:
    wall = median([r.seconds for r in again])
    inside = median([in_run_seconds(r) for r in again])
    rate = partitions / inside
    print(
        f"  {name}: publish {first.seconds:.2f} s; rerun {inside:.2f} s in the runner, {wall:.2f} s with process start "
        f"({partitions / wall:,.0f} partitions/s); direct GET+LIST of every version: {floor:.2f} s"
    )
    return Row(
        f"5 rerun, {name}, {partitions:,} partitions",
        f"{rate:,.0f} partitions/s",
        f"direct reads: {partitions / floor:,.0f} partitions/s",
        f"{inside / floor:.2f}x its time",
        f">= {target} partitions/s" if target else "-",
        rate >= target if target else None,
    )


def measure(work: Path, quick: bool) -> list[Row]:
    reruns = 3 if quick else 5
    local = work / "rerun-store"
    shutil.rmtree(local, ignore_errors=True)
    runs = publish_then_rerun(work, LOCAL_PARTITIONS, str(local), {}, reruns)
    rows = [row("local", LOCAL_PARTITIONS, *runs, median([local_floor(local) for _ in range(3)]), TARGET)]
    shutil.rmtree(local, ignore_errors=True)
    with moto_server() as aws:
        runs = publish_then_rerun(work, S3_PARTITIONS, f"s3://{BUCKET}/cryo-data", aws, 2)
        rows.append(row("S3 (moto, HTTP)", S3_PARTITIONS, *runs, s3_floor(aws, "cryo-data/"), None))
    return rows
