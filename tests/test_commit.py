"""The commit protocol against real stores: trust no marker blindly, and fence attempts racing on one prefix.

Every scenario ends the same way: the store holds, byte for byte, what one clean run writes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cryo_ingest.publish.commit import find_published, publish
from cryo_ingest.publish.layout import Target
from cryo_ingest.publish.marker import file_entry, marker_bytes
from trace_operators.contract import ObjectStore, RetryableError
from trace_operators.stores import LocalStore, open_store

from tests.conftest import Cli
from tests.s3server import S3Bucket, S3Server

#: Two datasets, the smallest and one of the largest: enough to see one republished and the other reused.
DATASETS = ("blocks", "logs")


def job(chunk_size: int, partition_size: int) -> dict[str, Any]:
    return {
        "name": "cryo_bootstrap",
        "operator": "cryo_ingest",
        "config": {
            "chain_id": 10143,
            "datasets": list(DATASETS),
            "rpc_pool": "monad",
            "chunk_size": chunk_size,
            "partition_size": partition_size,
        },
        "outputs": len(DATASETS),
    }


def task(start: int, end: int, chunk_size: int, attempt: int = 1) -> str:
    return json.dumps(
        {
            "task_id": "t-commit",
            "attempt": attempt,
            "job": job(chunk_size, end - start + 1),
            "partition": {"partition_key": f"{start}-{end}", "start": start, "end": end},
        }
    )


#: Blocks 1000..1999 in chunks of 300: four files a dataset, the last one shorter.
SMALL = task(1000, 1999, 300)
#: Big enough for two deliveries of one task to overlap.
MEDIUM = task(0, 19_999, 1000)
#: Sixty files a dataset: a process runs a second or so, long enough to be killed at many points.
BIG = task(0, 59_999, 1000)
BIG_RANGE = ("--start-block", "0", "--end-block", "59999")


def local_objects(root: Path) -> dict[str, bytes]:
    """Every file of a local store, hidden ones (temporary files) included, by key."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run_task(text: str, store: Path, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "cryo_ingest", "task", "-", "--store", str(store)],
        cwd=cwd,
        env=env,
        input=text,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], dict[str, bytes]]:
    """The objects one clean run of a task writes into an empty local store, computed once per task."""
    cache: dict[str, dict[str, bytes]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACE_")}

    def objects(text: str) -> dict[str, bytes]:
        if text not in cache:
            where = tmp_path_factory.mktemp("clean")
            run_task(text, where / "store", {**env, "TRACE_CRYO_STAGING_DIR": str(where / "staging")}, where)
            cache[text] = local_objects(where / "store")
        return cache[text]

    return objects


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# -- the objects of a store, local or S3, as a tamperer sees them ------------------------------------


class Local:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = str(root)

    def get(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)  # a new file, never written through a link another name shares
        path.write_bytes(data)

    def delete(self, key: str) -> None:
        (self.root / key).unlink()

    def all(self) -> dict[str, bytes]:
        return local_objects(self.root)


class Bucket:
    """The whole bucket is the store (no prefix), so its keys are a local store's keys."""

    def __init__(self, bucket: S3Bucket) -> None:
        self.client = bucket.client
        self.name = bucket.name
        self.url = bucket.url

    def get(self, key: str) -> bytes:
        data: bytes = self.client.get_object(Bucket=self.name, Key=key)["Body"].read()
        return data

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.name, Key=key)

    def all(self) -> dict[str, bytes]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        return {key: self.get(key) for key in keys}


Objects = Local | Bucket


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def rewrite_marker(objects: Objects, prefix: str, change: Callable[[dict[str, Any]], None], totals: bool) -> None:
    """Change the marker's JSON and write it back canonically, its totals recomputed when `totals`."""
    marker = json.loads(objects.get(prefix + "_SUCCESS"))
    change(marker)
    if totals:
        marker["row_count"] = sum(f["rows"] for f in marker["files"])
        marker["bytes"] = sum(f["bytes"] for f in marker["files"])
    objects.put(prefix + "_SUCCESS", canonical(marker))


def listed(objects: Objects, prefix: str) -> list[str]:
    return [f["key"] for f in json.loads(objects.get(prefix + "_SUCCESS"))["files"]]


def two_rows_short(data: bytes) -> bytes:
    table = pq.read_table(io.BytesIO(data))
    out = io.BytesIO()
    pq.write_table(table.slice(0, table.num_rows - 2), out)
    return out.getvalue()


def _dup(m: dict[str, Any]) -> None:
    m["files"][1] = m["files"][0]


def _rows(m: dict[str, Any]) -> None:
    m["files"][0]["rows"] += 1


def _total(m: dict[str, Any]) -> None:
    m["row_count"] += 1


def _other_range(m: dict[str, Any]) -> None:
    m["files"][0]["key"] = m["files"][0]["key"].replace("/1000_1999/", "/0_999/")


def _no_files(m: dict[str, Any]) -> None:
    m["files"] = []


def _manifest_other_keys(o: Objects, p: str) -> None:
    manifest = json.loads(o.get(p + "_manifest.json"))
    manifest["parquet_keys"] = manifest["parquet_keys"][:-1]
    o.put(p + "_manifest.json", json.dumps(manifest, separators=(",", ":")).encode())


def _manifest_reformatted(o: Objects, p: str) -> None:
    o.put(p + "_manifest.json", json.dumps(json.loads(o.get(p + "_manifest.json")), indent=2).encode())


def _short_file(o: Objects, p: str) -> None:
    key = listed(o, p)[1]
    o.put(key, two_rows_short(o.get(key)))


def _stray_parquet(o: Objects, p: str) -> None:
    o.put(p + "10143__blocks__00005000_to_00005299.parquet", o.get(listed(o, p)[0]))


def _stray_and_no_marker(o: Objects, p: str) -> None:
    o.put(p + "10143__blocks__00001000_to_00001099.parquet", o.get(listed(o, p)[0]))
    o.delete(p + "_SUCCESS")
    o.put(p + "_SUCCESS.old", b"{}")


def _dead_writers_file_and_no_marker(o: Objects, p: str) -> None:
    """What a writer killed before renaming a file into place leaves: its temporary file, and no marker."""
    o.put(f"{p}.10143__blocks__00001300_to_00001599.parquet.tmp-{dead_pid()}-0a1b2c3d4e5f", o.get(listed(o, p)[1]))
    o.delete(p + "_SUCCESS")


#: How each case damages the committed `blocks` prefix of blocks 1000..1999.
TAMPERING: dict[str, Callable[[Objects, str], None]] = {
    "marker lists no files": lambda o, p: rewrite_marker(o, p, _no_files, totals=True),
    "marker lists a key twice": lambda o, p: rewrite_marker(o, p, _dup, totals=True),
    "an entry's rows inflated, totals unchanged": lambda o, p: rewrite_marker(o, p, _rows, totals=False),
    "marker totals inflated": lambda o, p: rewrite_marker(o, p, _total, totals=False),
    "marker lists a key of another range": lambda o, p: rewrite_marker(o, p, _other_range, totals=True),
    "marker is not JSON": lambda o, p: o.put(p + "_SUCCESS", b"{not json"),
    "marker is not UTF-8": lambda o, p: o.put(p + "_SUCCESS", b'{"files": "\xff\xfe"}'),
    "marker nested too deep": lambda o, p: o.put(
        p + "_SUCCESS", b'{"files": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    ),
    "marker truncated": lambda o, p: o.put(p + "_SUCCESS", o.get(p + "_SUCCESS")[:-40]),
    "manifest missing": lambda o, p: o.delete(p + "_manifest.json"),
    "manifest lists other keys": _manifest_other_keys,
    "manifest not byte-identical": _manifest_reformatted,
    "a listed file deleted": lambda o, p: o.delete(listed(o, p)[2]),
    "a listed file two rows short": _short_file,
    "a stray parquet file": _stray_parquet,
    "a stray object": lambda o, p: o.put(p + "notes.txt", b"not parquet"),
    "no marker, strays left": _stray_and_no_marker,
    "no marker, a dead writer's temporary file left": _dead_writers_file_and_no_marker,
}
MARKER_CASES = [name for name in TAMPERING if name.startswith("marker")]


def _tamper_then_rerun(cli: Cli, objects: Objects, case: str, reference: dict[str, bytes], **kw: Any) -> None:
    first = json.loads(cli("task", "-", "--store", objects.url, input=SMALL, check=True, **kw).stdout)
    prefix = first["datasets_published"][0]["storage_ref"]["prefix"]
    assert prefix.startswith("cryo/10143/blocks/1000_1999/")

    TAMPERING[case](objects, prefix)

    rerun = json.loads(
        cli("task", "-", "--store", objects.url, input=task(1000, 1999, 300, 2), check=True, **kw).stdout
    )
    assert rerun["outcome"] == "success"
    assert rerun["metrics"]["datasets_reused"] == 1, "only blocks is published again, logs is reused"
    assert rerun["datasets_published"] == first["datasets_published"]
    assert objects.all() == reference, "strays gone, every object the clean run's bytes"


@pytest.mark.parametrize("case", TAMPERING)
def test_a_tampered_prefix_is_published_again_locally(cli: Cli, tmp_path: Path, clean, case: str) -> None:
    _tamper_then_rerun(cli, Local(tmp_path / "store"), case, clean(SMALL))


@pytest.mark.parametrize("case", MARKER_CASES)
def test_a_tampered_prefix_is_published_again_on_s3(
    cli: Cli, clean, s3_bucket: S3Bucket, moto_server: S3Server, case: str
) -> None:
    _tamper_then_rerun(cli, Bucket(s3_bucket), case, clean(SMALL), extra_env=moto_server.env)


def test_same_size_garbage_is_trusted_by_a_rerun_by_design(cli: Cli, tmp_path: Path, clean) -> None:
    """A rerun checks sizes only (SPEC §5); `verify` reads the bytes (tests/test_verify.py)."""
    objects = Local(tmp_path / "store")
    first = json.loads(cli("task", "-", "--store", objects.url, input=SMALL, check=True).stdout)
    key = listed(objects, first["datasets_published"][0]["storage_ref"]["prefix"])[0]
    data = bytearray(objects.get(key))
    data[len(data) // 2] ^= 0xFF
    objects.put(key, bytes(data))

    rerun = json.loads(cli("task", "-", "--store", objects.url, input=SMALL, check=True).stdout)
    assert rerun["metrics"]["datasets_reused"] == 2
    assert objects.all() == {**clean(SMALL), key: bytes(data)}


def test_a_dead_writers_temporary_file_beside_a_committed_marker_is_removed(cli: Cli, tmp_path: Path, clean) -> None:
    """What a writer killed between linking `_SUCCESS` and unlinking its temporary name leaves behind."""
    objects = Local(tmp_path / "store")
    first = json.loads(cli("task", "-", "--store", objects.url, input=SMALL, check=True).stdout)
    prefix = first["datasets_published"][0]["storage_ref"]["prefix"]
    objects.put(f"{prefix}._SUCCESS.tmp-{dead_pid()}-0a1b2c3d4e5f", objects.get(prefix + "_SUCCESS"))

    cli("task", "-", "--store", objects.url, input=task(1000, 1999, 300, 2), check=True)
    assert objects.all() == clean(SMALL)


# -- the same task delivered twice at once ------------------------------------------------------------


def test_the_same_task_delivered_twice_at_once_publishes_once(env: dict[str, str], tmp_path: Path, clean) -> None:
    reference = clean(MEDIUM)
    path = tmp_path / "task.json"
    path.write_text(MEDIUM)
    staging = Path(env["TRACE_CRYO_STAGING_DIR"])
    raced = 0
    for round_ in range(5):
        store = tmp_path / f"store-{round_}"
        command = [sys.executable, "-m", "cryo_ingest", "task", str(path), "--store", str(store)]
        twins = [
            subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [twin.communicate(timeout=300) for twin in twins]
        codes = [twin.returncode for twin in twins]
        assert set(codes) <= {0, 75} and 0 in codes, outputs
        results = [json.loads(out) for out, _ in outputs]
        assert [r["outcome"] for r in results] == ["success" if c == 0 else "retryable_error" for c in codes]
        published = [r["datasets_published"] for r in results if r["outcome"] == "success"]
        assert all(p == published[0] for p in published)
        assert [p["dataset"] for p in published[0]] == list(DATASETS)
        assert sorted(k for k in local_objects(store) if k.endswith("_SUCCESS")) == sorted(
            p["storage_ref"]["prefix"] + "_SUCCESS" for p in published[0]
        )
        assert local_objects(store) == reference, f"round {round_}"
        assert list(staging.iterdir()) == [], f"round {round_}: staging left"
        raced += all(r["metrics"]["datasets_reused"] == 0 for r in results)
    assert raced, "in no round did both deliveries extract and commit: make the partition bigger"


# -- two writers with different bytes on one prefix, in process ---------------------------------------


class RacedStore:
    """The real store, with `before_marker` run once right before the first `_SUCCESS` is created."""

    def __init__(self, store: ObjectStore, before_marker: Callable[[], None]) -> None:
        self._store = store
        self._hook: Callable[[], None] | None = before_marker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def create_bytes(self, key: str, data: bytes) -> bool:
        if key.endswith("/_SUCCESS") and self._hook is not None:
            hook, self._hook = self._hook, None
            hook()
        return self._store.create_bytes(key, data)


def race_target(store: ObjectStore) -> Target:
    prefix = store.key("cryo/10143/blocks/0_1999/00000000-0000-5000-8000-000000000001/")
    names = ("10143__blocks__00000000_to_00000999.parquet", "10143__blocks__00001000_to_00001999.parquet")
    return Target(
        output_index=0,
        dataset="blocks",
        chain_id=10143,
        start=0,
        end=1999,
        dataset_uuid="00000000-0000-5000-8000-000000000000",
        dataset_version="00000000-0000-5000-8000-000000000001",
        config_hash="c" * 64,
        prefix=prefix,
        extractor="stub",
        extractor_version="test",
        file_keys=tuple(prefix + name for name in names),
    )


def staged_files(directory: Path, target: Target, seed: int, extra_rows: int = 0) -> list[Path]:
    """A chunk file per planned key: uncompressed, plain-encoded int64, so the same rows make the same size."""
    directory.mkdir()
    paths = []
    for index, key in enumerate(target.file_keys):
        path = directory / key.rpartition("/")[2]
        values = [seed * 1_000_003 + index * 1000 + row for row in range(1000 + extra_rows)]
        table = pa.table({"block_number": pa.array(values, pa.int64())})
        pq.write_table(table, path, compression="none", use_dictionary=False, write_statistics=False)
        paths.append(path)
    return paths


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "file":
        return LocalStore(tmp_path / "store")
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"{bucket.url}/race")


def store_bytes(store: ObjectStore, target: Target) -> dict[str, bytes | None]:
    return {key: store.get_bytes(key) for key in sorted(store.list_sizes(target.prefix))}


@pytest.mark.parametrize("theirs", ["other sizes", "same sizes"])
def test_a_writer_racing_with_other_bytes_uncommits_and_a_retry_commits(
    store: ObjectStore, tmp_path: Path, theirs: str
) -> None:
    target = race_target(store)
    ours = staged_files(tmp_path / "ours", target, seed=1)
    other = staged_files(tmp_path / "theirs", target, seed=2, extra_rows=1 if theirs == "other sizes" else 0)
    assert [p.read_bytes() for p in ours] != [p.read_bytes() for p in other]
    if theirs == "same sizes":
        assert [p.stat().st_size for p in ours] == [p.stat().st_size for p in other]
    won = []
    raced = RacedStore(store, lambda: won.append(publish(store, target, other)))

    with pytest.raises(RetryableError) as raised:
        publish(raced, target, ours)  # type: ignore[arg-type]

    assert str(raised.value) == (
        "blocks of blocks 0..1999: another attempt committed other bytes to version "
        "00000000-0000-5000-8000-000000000001 at the same time; its marker was removed so that a retry "
        "commits one writer's files"
    )
    assert len(won) == 1, "the other writer committed first"
    assert store.get_bytes(target.prefix + "_SUCCESS") is None, "no marker of the other writer's files remains"
    assert find_published(store, target) is None

    retried = publish(store, target, ours)
    assert find_published(store, target) == retried
    assert retried.row_count == 2000 and retried.storage_ref == store.ref(target.prefix)
    assert store_bytes(store, target) == {
        **{key: path.read_bytes() for key, path in zip(target.file_keys, ours)},
        target.prefix + "_manifest.json": store.get_bytes(target.prefix + "_manifest.json"),
        target.prefix + "_SUCCESS": store.get_bytes(target.prefix + "_SUCCESS"),
    }
    marker = json.loads(store.get_bytes(target.prefix + "_SUCCESS") or b"")
    assert [f["sha256"] for f in marker["files"]] == [hashlib.sha256(p.read_bytes()).hexdigest() for p in ours]


def test_a_writer_racing_with_the_same_bytes_returns_the_winners_publication(
    store: ObjectStore, tmp_path: Path
) -> None:
    target = race_target(store)
    ours = staged_files(tmp_path / "ours", target, seed=1)
    same = staged_files(tmp_path / "twin", target, seed=1)
    won = []
    raced = RacedStore(store, lambda: won.append(publish(store, target, same)))

    lost = publish(raced, target, ours)  # type: ignore[arg-type]

    assert won == [lost]
    assert find_published(store, target) == lost
    entries = tuple(file_entry(key, path) for key, path in zip(target.file_keys, ours))
    assert store.get_bytes(target.prefix + "_SUCCESS") == marker_bytes(target, entries)
    assert lost.row_count == 2000
    assert set(store.list_sizes(target.prefix)) == {
        *target.file_keys,
        target.prefix + "_manifest.json",
        target.prefix + "_SUCCESS",
    }
    assert [store.get_bytes(key) for key in target.file_keys] == [p.read_bytes() for p in ours]


def test_a_committed_prefix_is_returned_before_anything_is_uploaded(store: ObjectStore, tmp_path: Path) -> None:
    target = race_target(store)
    first = publish(store, target, staged_files(tmp_path / "first", target, seed=1))
    committed = store_bytes(store, target)
    assert publish(store, target, staged_files(tmp_path / "second", target, seed=2)) == first
    assert store_bytes(store, target) == committed


# -- conditional create ----------------------------------------------------------------------------


def test_create_bytes_creates_only_when_absent(store: ObjectStore) -> None:
    key = store.key("p/_SUCCESS")
    assert store.create_bytes(key, b"first") is True
    assert store.create_bytes(key, b"second, longer") is False
    assert store.get_bytes(key) == b"first"
    assert store.list_sizes(store.key("p/")) == {key: 5}


def test_create_bytes_racing_threads_one_wins(store: ObjectStore) -> None:
    key = store.key("race/_SUCCESS")
    start = threading.Barrier(8)

    def create(n: int) -> bool:
        start.wait()
        return store.create_bytes(key, f"writer {n}".encode())

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(create, range(8)))
    assert won.count(True) == 1
    assert store.get_bytes(key) == f"writer {won.index(True)}".encode()
    assert list(store.list_sizes(store.key("race/"))) == [key]


# -- killed at random points, then rerun ---------------------------------------------------------------


def _files(root: Path) -> Iterator[Path]:
    return (p for p in root.rglob("*") if p.is_file()) if root.exists() else iter(())


def _markers_commit_whole_files(root: Path) -> int:
    """Every `_SUCCESS` lists files that are there with its sizes and SHA-256; how many markers there are."""
    markers = list(root.rglob("_SUCCESS"))
    for marker in markers:
        for entry in json.loads(marker.read_bytes())["files"]:
            data = (root / entry["key"]).read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["bytes"], entry["sha256"]), entry["key"]
        assert (marker.parent / "_manifest.json").is_file()
    return len(markers)


def test_killed_at_random_points_then_rerun_publishes_the_same_bytes(
    env: dict[str, str], tmp_path: Path, cli: Cli, clean
) -> None:
    reference = clean(BIG)
    path = tmp_path / "task.json"
    path.write_text(BIG)
    dag = tmp_path / "job.yaml"
    dag.write_text(json.dumps(json.loads(BIG)["job"]))
    staging = Path(env["TRACE_CRYO_STAGING_DIR"])
    rng = random.Random(20_240_607)
    mid_publish = 0
    for trial in range(8):
        store = tmp_path / f"victim-{trial}"
        after = rng.randrange(1, len(reference))
        victim = subprocess.Popen(
            [sys.executable, "-m", "cryo_ingest", "task", str(path), "--store", str(store)],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while sum(1 for _ in _files(store)) < after and victim.poll() is None:
            assert time.monotonic() < deadline, "the task neither ended nor published"
            time.sleep(0.002)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        committed = _markers_commit_whole_files(store)
        mid_publish += committed < len(DATASETS)

        rerun = json.loads(cli("task", str(path), "--store", str(store), check=True).stdout)
        assert rerun["metrics"]["datasets_reused"] == committed
        checked = cli("verify", str(dag), "--job", "cryo_bootstrap", *BIG_RANGE, "--store", str(store))
        assert (checked.returncode, checked.stdout) == (
            0,
            "2 committed prefixes checked: 2 clean, 0 damaged; 0 not committed (run the job to publish them)\n",
        ), f"trial {trial}, killed after {after} objects"
        assert local_objects(store) == reference, f"trial {trial}, killed after {after} objects"
        # The rerun removed its own staging; only the killed process's may be left, for the sweep (SPEC §7).
        left = list((staging / "t-commit" / "1").iterdir()) if (staging / "t-commit" / "1").exists() else []
        assert [d.name.partition("-")[0] for d in left] in ([], [str(victim.pid)])
        shutil.rmtree(staging, ignore_errors=True)
    assert mid_publish >= 2, "kills should land before the last marker"
