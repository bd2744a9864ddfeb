"""`cryo-ingest verify`: the deep check of committed prefixes (SHA-256, footers, markers, strays), and `--repair`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.conftest import FIXTURES, Cli
from tests.s3server import S3Bucket, S3Server

DAG = FIXTURES / "valid" / "bootstrap.yaml"
JOB = ("--job", "cryo_bootstrap")
#: Two partitions of four datasets: eight prefixes of four files each.
RANGE = ("--start-block", "0", "--end-block", "1999")


def summary(committed: int, damaged: int, missing: int = 0) -> str:
    return (
        f"{committed} committed prefixes checked: {committed - damaged} clean, {damaged} damaged; "
        f"{missing} not committed (run the job to publish them)"
    )


def objects(root: Path) -> dict[str, bytes]:
    """Every file of a local store, hidden ones included, by key."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def stamps(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """What a clean run of blocks 0..1999 writes into an empty local store."""
    where = tmp_path_factory.mktemp("clean")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACE_")}
    subprocess.run(
        [sys.executable, "-m", "cryo_ingest", "run", str(DAG), *JOB, *RANGE, "--store", str(where / "store")],
        cwd=where,
        env={**env, "TRACE_CRYO_STAGING_DIR": str(where / "staging")},
        capture_output=True,
        check=True,
        timeout=300,
    )
    return objects(where / "store")


class Store:
    """The local store `cryo-data` of a test, published by `run`, with what a tamperer does to it."""

    def __init__(self, cli: Cli, tmp_path: Path) -> None:
        self.cli = cli
        self.root = (tmp_path / "cryo-data").resolve()
        self.current: dict[tuple[str, str], str] = {}

    def run(self, dag: Path = DAG) -> None:
        self.cli("run", str(dag), *JOB, *RANGE, check=True)

    def verify(self, *extra: str) -> subprocess.CompletedProcess[str]:
        done = self.cli("verify", str(DAG), *JOB, *(extra if "--start-block" in extra else (*RANGE, *extra)))
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def prefix(self, dataset: str, blocks: str) -> str:
        """The version of `dataset` over `blocks` that the DAG's own config publishes, as a key prefix."""
        return self.current[dataset, blocks]

    def url(self, prefix: str) -> str:
        return f"file://{self.root}/{prefix}"

    def marker(self, prefix: str) -> dict[str, Any]:
        value: dict[str, Any] = json.loads((self.root / prefix / "_SUCCESS").read_bytes())
        return value

    def file(self, prefix: str, index: int) -> Path:
        return self.root / self.marker(prefix)["files"][index]["key"]

    def garble(self, path: Path) -> tuple[str, str]:
        """Flip one byte in the middle of `path`, its size unchanged; its SHA-256 before and after."""
        data = bytearray(path.read_bytes())
        before = hashlib.sha256(data).hexdigest()
        data[len(data) // 2] ^= 0xFF
        path.unlink()
        path.write_bytes(data)
        return before, hashlib.sha256(data).hexdigest()

    def inflate_rows(self, prefix: str, index: int) -> int:
        """Make `_SUCCESS` claim one row more for a file, its totals and layout kept consistent; the true count."""
        marker = self.marker(prefix)
        marker["files"][index]["rows"] += 1
        marker["row_count"] += 1
        (self.root / prefix / "_SUCCESS").write_bytes(
            json.dumps(marker, sort_keys=True, separators=(",", ":")).encode()
        )
        return int(marker["files"][index]["rows"]) - 1


def damage(store: Store) -> list[str]:
    """Four prefixes damaged four ways; the lines `verify` should print for them, in its order."""
    blocks, txs = store.prefix("blocks", "0_999"), store.prefix("transactions", "0_999")
    logs, traces = store.prefix("logs", "1000_1999"), store.prefix("traces", "1000_1999")
    garbled = store.file(blocks, 0)
    before, after = store.garble(garbled)
    short = store.file(txs, 1)
    rows = store.inflate_rows(txs, 1)
    assert pq.read_metadata(short).num_rows == rows
    (store.root / logs / "stray.txt").write_bytes(b"not committed")
    (store.root / traces / "_manifest.json").unlink()
    return [
        f"damaged blocks 0..999 {store.url(blocks)}: {garbled.name} has SHA-256 {after[:12]}…, not {before[:12]}…",
        f"damaged transactions 0..999 {store.url(txs)}: {short.name} holds {rows} rows, not the {rows + 1} of _SUCCESS",
        f"damaged logs 1000..1999 {store.url(logs)}: 1 object(s) that _SUCCESS does not list: stray.txt",
        f"damaged traces 1000..1999 {store.url(traces)}: _manifest.json is missing",
    ]


@pytest.fixture
def store(cli: Cli, tmp_path: Path) -> Store:
    published = Store(cli, tmp_path)
    published.run()
    for marker in published.root.glob("cryo/10143/*/*/*/_SUCCESS"):
        prefix = marker.parent.relative_to(published.root).as_posix() + "/"
        published.current[prefix.split("/")[2], prefix.split("/")[3]] = prefix
    assert len(published.current) == 8
    return published


def test_a_clean_store_is_clean(store: Store) -> None:
    done = store.verify()
    assert (done.returncode, done.stdout) == (0, summary(8, 0) + "\n")
    done = store.verify("--format", "json")
    assert (done.returncode, json.loads(done.stdout)) == (0, {"committed": 8, "missing": 0, "damaged": []})
    whole_job = store.cli("verify", str(DAG), *JOB)
    assert (whole_job.returncode, whole_job.stdout) == (0, summary(8, 0, missing=32) + "\n")


def test_damage_is_named_prefix_by_prefix(store: Store) -> None:
    lines = damage(store)
    done = store.verify()
    assert (done.returncode, done.stdout) == (1, "\n".join([*lines, summary(8, 4)]) + "\n")

    as_json = store.verify("--format", "json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report == {
        "committed": 8,
        "missing": 0,
        "damaged": [
            {
                "dataset": line.split()[1],
                "start": int(line.split()[2].split("..")[0]),
                "end": int(line.split()[2].split("..")[1]),
                "url": line.split()[3].removesuffix(":"),
                "problems": [line.split(": ", 1)[1]],
            }
            for line in lines
        ],
    }


def test_a_file_that_is_not_parquet_under_a_marker_that_matches_it(store: Store) -> None:
    """The SHA-256 agrees (the marker was written for these bytes), but there is no Parquet footer to read."""
    logs = store.prefix("logs", "0_999")
    path = store.file(logs, 3)
    path.unlink()
    path.write_bytes(b"PAR1 but not really")
    marker = store.marker(logs)
    marker["files"][3].update(bytes=19, sha256=hashlib.sha256(b"PAR1 but not really").hexdigest())
    marker["bytes"] = sum(f["bytes"] for f in marker["files"])
    (store.root / logs / "_SUCCESS").write_bytes(json.dumps(marker, sort_keys=True, separators=(",", ":")).encode())
    done = store.verify()
    assert done.returncode == 1
    line, last = done.stdout.splitlines()
    assert line.startswith(f"damaged logs 0..999 {store.url(logs)}: {path.name} has no readable Parquet footer (")
    assert last == summary(8, 1)


def test_same_size_garbage_passes_a_rerun_but_not_verify(store: Store) -> None:
    blocks = store.prefix("blocks", "0_999")
    before, after = store.garble(store.file(blocks, 2))
    rerun = store.cli("run", str(DAG), *JOB, *RANGE, check=True)
    assert "8 dataset versions were already there" in rerun.stdout
    done = store.verify()
    assert done.returncode == 1
    assert done.stdout.splitlines()[0] == (
        f"damaged blocks 0..999 {store.url(blocks)}: 10143__blocks__00000500_to_00000749.parquet has SHA-256 "
        f"{after[:12]}…, not {before[:12]}…"
    )


def test_a_prefix_without_a_marker_is_not_committed_and_not_damage(store: Store) -> None:
    blocks = store.prefix("blocks", "1000_1999")
    (store.root / blocks / "_SUCCESS").unlink()
    (store.root / blocks / "stray.parquet").write_bytes(b"left by a dead writer")
    logs = store.prefix("logs", "0_999")
    store.garble(store.file(logs, 0))
    (store.root / logs / "_SUCCESS").unlink()
    done = store.verify()
    assert (done.returncode, done.stdout) == (0, summary(6, 0, missing=2) + "\n")
    assert json.loads(store.verify("--format", "json").stdout) == {"committed": 6, "missing": 2, "damaged": []}


def test_repair_republishes_byte_identically_and_leaves_other_versions_alone(
    store: Store, tmp_path: Path, reference: dict[str, bytes]
) -> None:
    # Another chunk_size: new versions beside the current ones, which repair must not touch.
    rechunked = tmp_path / "rechunked.yaml"
    rechunked.write_text(DAG.read_text().replace("chunk_size: 250", "chunk_size: 400"))
    store.run(rechunked)
    others = {k: v for k, v in stamps(store.root).items() if k not in reference}
    assert len([k for k in others if k.endswith("/_SUCCESS")]) == 8
    lines = damage(store)

    done = store.verify("--repair")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    assert out[:5] == [*lines, summary(8, 4)]
    assert out[5].startswith("repair: 2/2 partitions published, 2,000 blocks, ")
    assert out[5].endswith("; 4 dataset versions were already there")
    assert out[6].startswith("after repair: ") and " 0 damaged; " in out[6] and len(out) == 7

    assert {k: v for k, v in objects(store.root).items() if k not in others} == reference
    assert {k: v for k, v in stamps(store.root).items() if k in others} == others, "other versions untouched"
    again = store.verify()
    assert (again.returncode, again.stdout) == (0, summary(8, 0) + "\n")


def test_repair_checks_each_republished_prefix_once(store: Store, reference: dict[str, bytes]) -> None:
    """Two damaged datasets of one partition: the partition is republished once, and checked once after."""
    store.garble(store.file(store.prefix("blocks", "0_999"), 0))
    (store.root / store.prefix("logs", "0_999") / "_manifest.json").unlink()

    done = store.verify("--repair", "--format", "json")
    assert done.returncode == 0
    assert objects(store.root) == reference
    report = json.loads(done.stdout)
    assert (report["committed"], len(report["damaged"])) == (8, 2)
    assert report["after_repair"] == {"committed": 4, "missing": 0, "damaged": []}

    store.garble(store.file(store.prefix("blocks", "0_999"), 0))
    (store.root / store.prefix("logs", "0_999") / "_manifest.json").unlink()
    text = store.verify("--repair")
    assert text.stdout.splitlines()[-1] == "after repair: " + summary(4, 0)


def test_the_range_flags_restrict_what_is_checked(store: Store) -> None:
    blocks = store.prefix("blocks", "1000_1999")
    (store.root / blocks / "_manifest.json").unlink()
    first = store.verify("--start-block", "0", "--end-block", "999")
    assert (first.returncode, first.stdout) == (0, summary(4, 0) + "\n")
    second = store.verify("--start-block", "1000", "--end-block", "1999")
    assert (second.returncode, second.stdout) == (
        1,
        f"damaged blocks 1000..1999 {store.url(blocks)}: _manifest.json is missing\n{summary(4, 1)}\n",
    )


def test_a_marker_nested_too_deep_is_damage_not_a_crash(store: Store) -> None:
    blocks = store.prefix("blocks", "0_999")
    (store.root / blocks / "_SUCCESS").write_bytes(b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    done = store.verify()
    assert done.returncode == 1
    assert done.stdout.startswith(f"damaged blocks 0..999 {store.url(blocks)}: _SUCCESS is not a marker (")
    assert done.stdout.splitlines()[-1] == summary(8, 1)


def test_verify_and_repair_on_s3(cli: Cli, s3_bucket: S3Bucket, moto_server: S3Server) -> None:
    url = s3_bucket.url + "/lake"
    args = ("--start-block", "0", "--end-block", "999", "--store", url)
    cli("run", str(DAG), *JOB, *args, extra_env=moto_server.env, check=True)
    client, bucket = s3_bucket.client, s3_bucket.name

    def everything() -> dict[str, bytes]:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        return {k: client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys}

    clean = everything()
    assert len(clean) == 4 * 6
    (marker,) = [k for k in clean if k.startswith("lake/cryo/10143/logs/0_999/") and k.endswith("/_SUCCESS")]
    key = json.loads(clean[marker])["files"][3]["key"]
    data = bytearray(clean[key])
    data[len(data) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(data))

    done = cli("verify", str(DAG), *JOB, *args, extra_env=moto_server.env)
    assert (done.returncode, done.stdout) == (
        1,
        f"damaged logs 0..999 s3://{bucket}/{marker.removesuffix('_SUCCESS')}: {key.rpartition('/')[2]} has SHA-256 "
        f"{hashlib.sha256(data).hexdigest()[:12]}…, not {hashlib.sha256(clean[key]).hexdigest()[:12]}…\n"
        f"{summary(4, 1)}\n",
    )
    repaired = cli("verify", str(DAG), *JOB, *args, "--repair", extra_env=moto_server.env)
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert everything() == clean
    assert cli("verify", str(DAG), *JOB, *args, extra_env=moto_server.env).stdout == summary(4, 0) + "\n"
