"""`cryo-ingest run` and `plan` on the stub: what lands in a local store and in S3 over HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from cryo_ingest.extract.cryo_schemas import SCHEMAS

from tests.conftest import FIXTURES

DAG = FIXTURES / "valid" / "bootstrap.yaml"
DATASETS = ("blocks", "transactions", "logs", "traces")


def objects(root: Path) -> dict[str, bytes]:
    """Every published object of a local store, by key."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def s3_objects(bucket) -> dict[str, bytes]:
    pages = bucket.client.get_paginator("list_objects_v2").paginate(Bucket=bucket.name)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    return {k: bucket.client.get_object(Bucket=bucket.name, Key=k)["Body"].read() for k in sorted(keys)}


def test_run_publishes_every_partition_with_cryo_schemas(cli, tmp_path: Path) -> None:
    done = cli("run", str(DAG), "--job", "cryo_bootstrap", check=True)
    assert done.stdout.splitlines()[0].startswith("10/10 partitions published, 10,000 blocks, ")
    store = tmp_path / "cryo-data"
    published = objects(store)
    for dataset in DATASETS:
        markers = sorted(k for k in published if k.startswith(f"cryo/10143/{dataset}/") and k.endswith("/_SUCCESS"))
        assert [k.split("/")[3] for k in markers] == sorted(f"{s}_{s + 999}" for s in range(0, 10000, 1000))
        for key in markers:
            marker = json.loads(published[key])
            prefix = key.removesuffix("_SUCCESS")
            assert [f["key"] for f in marker["files"]] == [
                f"{prefix}10143__{dataset}__{first:08d}_to_{first + 249:08d}.parquet"
                for first in range(marker["range_start"], marker["range_end"] + 1, 250)
            ]
            for f in marker["files"]:
                data = published[f["key"]]
                assert (len(data), hashlib.sha256(data).hexdigest()) == (f["bytes"], f["sha256"])
                assert pq.read_schema(store / f["key"]).equals(SCHEMAS[dataset])
            manifest = json.loads(published[prefix + "_manifest.json"])
            assert manifest == {
                "version": 1,
                "dataset_uuid": marker["dataset_uuid"],
                "dataset_version": marker["dataset_version"],
                "parquet_keys": sorted(f["key"] for f in marker["files"]),
            }
    blocks = pq.read_table(store / "cryo" / "10143" / "blocks").column("block_number")
    assert sorted(blocks.to_pylist()) == list(range(10000))
    assert not any(b"http" in data for data in published.values() if not data.startswith(b"PAR1"))


def test_rerun_writes_nothing_and_new_chunk_size_adds_versions(cli, tmp_path: Path) -> None:
    cli("run", str(DAG), "--job", "cryo_bootstrap", "--start-block", "0", "--end-block", "1999", check=True)
    store = tmp_path / "cryo-data"
    first = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    again = cli("run", str(DAG), "--job", "cryo_bootstrap", "--start-block", "0", "--end-block", "1999", check=True)
    assert "8 dataset versions were already there" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()} == first

    rechunked = tmp_path / "rechunked.yaml"
    rechunked.write_text(DAG.read_text().replace("chunk_size: 250", "chunk_size: 400"))
    cli("run", str(rechunked), "--job", "cryo_bootstrap", "--start-block", "0", "--end-block", "1999", check=True)
    after = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    assert {p: after[p] for p in first} == first
    versions = {p.parent for p in store.rglob("_SUCCESS")}
    assert len(versions) == 16
    blocks_0 = sorted(p.name for p in store.glob("cryo/10143/blocks/0_999/*/*.parquet"))
    assert blocks_0.count("10143__blocks__00000000_to_00000249.parquet") == 1
    assert "10143__blocks__00000000_to_00000399.parquet" in blocks_0


def test_local_and_s3_get_identical_bytes(cli, tmp_path: Path, s3_bucket, moto_server) -> None:
    args = ("run", str(DAG), "--job", "cryo_bootstrap", "--start-block", "0", "--end-block", "2999")
    cli(*args, check=True)
    cli(*args, "--store", s3_bucket.url + "/lake", extra_env=moto_server.env, check=True)
    local = objects(tmp_path / "cryo-data")
    remote = s3_objects(s3_bucket)
    assert {
        k.removeprefix("lake/"): v for k, v in remote.items() if not k.endswith(("_manifest.json", "_SUCCESS"))
    } == {k: v for k, v in local.items() if not k.endswith(("_manifest.json", "_SUCCESS"))}
    marker_key = next(k for k in remote if k.endswith("_SUCCESS"))
    assert json.loads(remote[marker_key])["files"][0]["key"].startswith("lake/cryo/10143/")
    rerun = cli(*args, "--store", s3_bucket.url + "/lake", extra_env=moto_server.env, check=True)
    assert "12 dataset versions were already there" in rerun.stdout


def test_plan_lists_partitions_and_touches_nothing(cli, tmp_path: Path) -> None:
    done = cli("plan", str(DAG), "--job", "cryo_bootstrap", "--format", "json", check=True)
    rows = json.loads(done.stdout)
    assert len(rows) == 40
    assert rows[0]["partition_key"] == "0-999" and rows[0]["dataset"] == "blocks"
    assert rows[0]["prefix"] == f"cryo/10143/blocks/0_999/{rows[0]['dataset_version']}/"
    assert not (tmp_path / "cryo-data").exists()
    ran = cli("run", str(DAG), "--job", "cryo_bootstrap", "--start-block", "0", "--end-block", "999", check=True)
    assert ran.returncode == 0
    assert (tmp_path / "cryo-data" / rows[0]["prefix"] / "_SUCCESS").exists()


def test_one_row_per_block_and_consistent_references(cli, tmp_path: Path) -> None:
    cli("run", str(DAG), "--job", "cryo_bootstrap", "--start-block", "500", "--end-block", "1499", check=True)
    root = tmp_path / "cryo-data" / "cryo" / "10143"
    blocks = pq.read_table(root / "blocks")
    assert sorted(blocks.column("block_number").to_pylist()) == list(range(500, 1500))
    txs = set(pq.read_table(root / "transactions").column("transaction_hash").to_pylist())
    for dataset in ("logs", "traces"):
        hashes = pq.read_table(root / dataset).column("transaction_hash")
        assert set(pc.drop_null(hashes).to_pylist()) <= txs


def test_bad_range_flags_are_usage_errors(cli) -> None:
    done = cli("run", str(DAG), "--job", "cryo_bootstrap", "--start-block", "10", "--end-block", "5")
    assert done.returncode == 2
    assert "--start-block 10 --end-block 5: blocks 10..5 are not a range" in done.stderr
    done = cli("run", str(DAG), "--job", "nope")
    assert done.returncode == 2 and "has no cryo_ingest job named 'nope'" in done.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_stops_in_flight_partitions_cleanly(env: dict[str, str], tmp_path: Path, stop: int) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cryo_ingest",
            "run",
            str(DAG),
            "--job",
            "cryo_bootstrap",
            "--start-block",
            "0",
            "--end-block",
            "999999",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    store = tmp_path / "cryo-data"
    deadline = time.monotonic() + 120
    while not (store.exists() and any(store.rglob("_SUCCESS"))):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    # As a terminal's Ctrl-C does: to the whole process group, not to the parent alone.
    os.killpg(process.pid, stop)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + stop, err
    assert "interrupted" in err and "Traceback" not in err
    for marker in store.rglob("_SUCCESS"):
        files = json.loads(marker.read_text())["files"]
        assert all((store / f["key"]).stat().st_size == f["bytes"] for f in files)
    assert not list((tmp_path / "staging").rglob("*.parquet"))
