"""`cryo-ingest status`: published, damaged and missing runs per dataset, on a local store and on S3 over HTTP."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cryo_ingest import read
from cryo_ingest.publish.layout import MANIFEST, SUCCESS, targets
from trace_operators.contract import Partition

from tests.conftest import Cli
from tests.test_read import (
    DAG,
    JOB,
    Lake,
    blocks_only,
    dag_variant,
    files,
    local_lake,
    planned_versions,
    rechunked,
    run,
    runs,
    s3_lake,
    status,
)

DATASETS = ("blocks", "transactions", "logs", "traces")


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    return local_lake(tmp_path) if request.param == "local" else s3_lake(request)


def prefix_of(cli: Cli, dag: Path, dataset: str, start: int, end: int) -> str:
    """The version prefix of `dataset` over `start..end` that `dag`'s config publishes, as `plan` names it."""
    version = planned_versions(cli, dag, start, end, dataset)[start]
    return f"cryo/10143/{dataset}/{start}_{end}/{version}/"


def parquet_bytes(lake: Lake, prefixes: list[str]) -> int:
    return sum(
        size for key, size in lake.keys().items() if key.endswith(".parquet") and key.startswith(tuple(prefixes))
    )


def view_bytes(cli: Cli, lake: Lake, dag: Path, dataset: str, *extra: str) -> int:
    """The bytes of the files `files` lists for `dataset`."""
    sizes = lake.keys()
    return sum(sizes[lake.key_of(url)] for url in files(cli, lake, dag, *extra, dataset=dataset))


def mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


@pytest.fixture
def damaged(cli: Cli, lake: Lake, tmp_path: Path) -> Lake:
    """Blocks 0..3999 published (four datasets), then chunks of 400 over 0..999 beside them, then three prefixes
    spoilt: a chunk file of blocks 1000..1999 deleted, a stray object in logs 2000..2999 (both damaged: a marker
    but not exactly the planned files), traces 3000..3999 without its `_SUCCESS` (as an interrupted upload leaves it).
    """
    run(cli, lake, DAG, 0, 3999)
    run(cli, lake, rechunked(tmp_path), 0, 999)
    lake.delete(prefix_of(cli, DAG, "blocks", 1000, 1999) + "10143__blocks__00001250_to_00001499.parquet")
    lake.put(prefix_of(cli, DAG, "logs", 2000, 2999) + "stray.parquet", b"PAR1 not of this version PAR1")
    lake.delete(prefix_of(cli, DAG, "traces", 3000, 3999) + SUCCESS)
    return lake


def other_bytes(cli: Cli, lake: Lake, tmp_path: Path, dataset: str) -> int:
    """The Parquet bytes of the chunks-of-400 version of `dataset` over 0..999."""
    return parquet_bytes(lake, [prefix_of(cli, rechunked(tmp_path), dataset, 0, 999)])


def test_status_text_json_and_rows_of_published_damaged_and_missing_runs(
    cli: Cli, damaged: Lake, tmp_path: Path
) -> None:
    """One line a run, not a partition; bytes those of the files `files` lists; other configs counted beside."""
    lake = damaged
    done = cli(
        "status", str(DAG), *JOB, "--start-block", "0", "--end-block", "5999", "--store", lake.url, extra_env=lake.env
    )
    assert done.returncode == 1 and done.stderr == ""
    size = {d: view_bytes(cli, lake, DAG, d, "--start-block", "0", "--end-block", "5999") for d in DATASETS}
    other = {d: other_bytes(cli, lake, tmp_path, d) for d in DATASETS}
    # Bytes: the Parquet files of the view (what `files` lists); other configs: the chunks-of-400 version of 0..999.
    head = "{}: {} blocks published in {} run(s), {} damaged, {} missing; {}; 1 version(s) of other configs beside them"
    lines = {
        "blocks": ("3,000", 2, "1,000", "2,000"),
        "transactions": ("4,000", 1, 0, "2,000"),
        "logs": ("3,000", 2, "1,000", "2,000"),
        "traces": ("3,000", 1, 0, "3,000"),
    }
    heads = {d: head.format(d, *lines[d], mb(size[d])) + f" ({mb(other[d])})" for d in DATASETS}
    assert done.stdout.splitlines() == [
        heads["blocks"],
        "  published 0..999 (1,000 blocks)",
        "  published 2000..3999 (2,000 blocks)",
        "  damaged   1000..1999 (1,000 blocks)",
        "  missing   4000..5999 (2,000 blocks)",
        heads["transactions"],
        "  published 0..3999 (4,000 blocks)",
        "  missing   4000..5999 (2,000 blocks)",
        heads["logs"],
        "  published 0..1999 (2,000 blocks)",
        "  published 3000..3999 (1,000 blocks)",
        "  damaged   2000..2999 (1,000 blocks)",
        "  missing   4000..5999 (2,000 blocks)",
        heads["traces"],
        "  published 0..2999 (3,000 blocks)",
        "  missing   3000..5999 (3,000 blocks)",
    ]
    assert done.stdout.endswith("blocks)\n")

    # The same as JSON.
    code, report = status(cli, lake, DAG, "--start-block", "0", "--end-block", "5999")
    assert code == 1
    assert list(report) == list(DATASETS)
    expected = {
        "blocks": (runs((0, 999), (2000, 3999)), runs((1000, 1999)), runs((4000, 5999))),
        "transactions": (runs((0, 3999)), [], runs((4000, 5999))),
        "logs": (runs((0, 1999), (3000, 3999)), runs((2000, 2999)), runs((4000, 5999))),
        "traces": (runs((0, 2999)), [], runs((3000, 5999))),
    }
    for dataset, (published, damaged_, missing) in expected.items():
        assert report[dataset] == {
            "dataset": dataset,
            "complete": False,
            "published": published,
            "damaged": damaged_,
            "missing": missing,
            "bytes": view_bytes(cli, lake, DAG, dataset, "--start-block", "0", "--end-block", "5999"),
            "rows": None,
            "other_config_versions": 1,
            "other_config_bytes": other_bytes(cli, lake, tmp_path, dataset),
        }
    # The other config's versions lie over 0..999 only: a range past them has none beside it.
    _, later = status(cli, lake, DAG, "--start-block", "2000", "--end-block", "2999")
    assert [later[d]["other_config_versions"] for d in DATASETS] == [0, 0, 0, 0]
    assert later["logs"]["damaged"] == runs((2000, 2999)) and later["logs"]["published"] == []

    # --rows: the rows of each committed marker of the view.
    code, report = status(cli, lake, DAG, "--start-block", "0", "--end-block", "5999", "--rows")
    assert code == 1
    assert report["blocks"]["rows"] == 3000  # one row a block
    for dataset in DATASETS:
        published = read.dataset(DAG, "cryo_bootstrap", dataset, store=lake.url, start_block=0, end_block=5999)
        assert report[dataset]["rows"] == published.count_rows()
    text = cli(
        "status",
        str(DAG),
        *JOB,
        "--start-block",
        "0",
        "--end-block",
        "999",
        "--rows",
        "--store",
        lake.url,
        extra_env=lake.env,
    )
    assert text.returncode == 0
    assert text.stdout.splitlines()[0].startswith("blocks: 1,000 blocks published in 1 run(s), 0 damaged, 0 missing; ")
    assert text.stdout.splitlines()[0].split("; ")[1].endswith(" MB, 1,000 rows")


def test_status_exit_0_only_when_the_range_is_complete(cli: Cli, damaged: Lake) -> None:
    lake = damaged
    code, report = status(cli, lake, DAG, "--start-block", "0", "--end-block", "999")
    assert code == 0
    assert all(r["complete"] and r["published"] == runs((0, 999)) for r in report.values())
    assert [
        status(cli, lake, DAG, "--start-block", s, "--end-block", e)[0]
        for s, e in [("0", "1000"), ("1999", "2000"), ("2000", "2999"), ("3999", "4000"), ("4000", "4000")]
    ] == [1] * 5
    # Republishing the spoilt prefixes (a run deletes the damaged ones' markers and strays first) completes it.
    run(cli, lake, DAG, 0, 5999)
    code, report = status(cli, lake, DAG, "--start-block", "0", "--end-block", "5999")
    assert code == 0 and all(r["published"] == runs((0, 5999)) for r in report.values())


def test_status_a_published_version_wins_over_a_damaged_one_and_fills_its_gap(cli: Cli, tmp_path: Path) -> None:
    """Damage under the grid's 1000..1999, an off-grid 1500..2499 published: the off-grid version counts, the damage
    is what is left of 1000..1999, and runs are merged across versions of both kinds."""
    lake, dag = local_lake(tmp_path), blocks_only(tmp_path)
    run(cli, lake, dag, 0, 1999)
    run(cli, lake, dag, 1500, 2499)
    run(cli, lake, dag, 3000, 3999)
    lake.put(prefix_of(cli, dag, "blocks", 1000, 1999) + "stray.txt", b"x")
    code, report = status(cli, lake, dag, "--start-block", "0", "--end-block", "3999")
    assert code == 1
    assert report["blocks"]["published"] == runs((0, 999), (1500, 2499), (3000, 3999))
    assert report["blocks"]["damaged"] == runs((1000, 1499))
    assert report["blocks"]["missing"] == runs((2500, 2999))


def test_status_needs_a_range_when_the_job_has_none(cli: Cli, tmp_path: Path) -> None:
    open_ended = dag_variant(tmp_path, "open.yaml", ("      start_block: 0\n", ""), ("      end_block: 9999\n", ""))
    done = cli("status", str(open_ended), *JOB, "--store", str(tmp_path / "cryo-data"))
    assert (done.returncode, done.stdout) == (2, "")
    assert (
        done.stderr == "cryo-ingest status: the job has no start_block/end_block: pass --start-block and --end-block\n"
    )
    done = cli("status", str(DAG), *JOB, "--end-block", "5", "--store", str(tmp_path / "cryo-data"))
    assert (done.returncode, done.stderr) == (
        2,
        "cryo-ingest status: give both --start-block and --end-block, or neither\n",
    )
    done = cli(
        "status", str(open_ended), *JOB, "--start-block", "0", "--end-block", "9", "--store", str(tmp_path / "x")
    )
    assert (done.returncode, done.stdout.splitlines()[1]) == (1, "  missing   0..9 (10 blocks)")


def test_status_rows_and_bytes_are_those_of_the_range(cli: Cli, tmp_path: Path) -> None:
    """Over blocks 500..1499 the view reads four chunk files of 250 blocks (what `files` lists for the range): 1,000
    rows of `blocks`, and those files' bytes.

    Fails today: rows and bytes are those of the whole versions that meet the range (0..999 and 1000..1999), 2,000
    rows, while the published runs are clipped to the range.
    """
    lake, dag = local_lake(tmp_path), blocks_only(tmp_path)
    run(cli, lake, dag, 0, 1999)
    code, report = status(cli, lake, dag, "--start-block", "500", "--end-block", "1499", "--rows")
    assert code == 0 and report["blocks"]["published"] == runs((500, 1499))
    assert report["blocks"]["bytes"] == view_bytes(
        cli, lake, dag, "blocks", "--start-block", "500", "--end-block", "1499"
    )
    assert report["blocks"]["rows"] == 1000


def committed_looking(lake: Lake, dag: Path, partitions: list[Partition], stray: Partition | None = None) -> None:
    """Make each partition look published: its planned chunk files (one each), manifest and marker, written directly
    (a marker with the fields `status` reads: the rows of the partition and of its file)."""
    view = read.open_job(dag, "cryo_bootstrap", store=lake.url)
    store = view.store
    for partition in partitions:
        target = targets(view.spec, partition, store, {})[0]
        [key] = target.file_keys
        store.put_bytes(key, b"PAR1")
        store.put_bytes(target.prefix + MANIFEST, b"{}")
        files = [{"key": key, "bytes": 4, "rows": partition.blocks}]
        store.put_bytes(target.prefix + SUCCESS, json.dumps({"row_count": partition.blocks, "files": files}).encode())
        if partition == stray:
            store.put_bytes(target.prefix + "stray.txt", b"x")


@pytest.mark.parametrize(("where", "count"), [("local", 1000), ("s3", 100)])
def test_status_merges_many_partitions_into_runs(
    request: pytest.FixtureRequest, cli: Cli, capfd: pytest.CaptureFixture[str], tmp_path: Path, where: str, count: int
) -> None:
    """`count` partitions of 10 blocks, one never published and one damaged: six lines, whatever the count.

    The time `status` takes is printed, not asserted; at 10,000 partitions it was measured apart (writing 30,000
    objects to moto takes minutes).
    """
    lake = local_lake(tmp_path) if where == "local" else s3_lake(request)
    dag = blocks_only(
        tmp_path,
        ("partition_size: 1000", "partition_size: 10"),
        ("chunk_size: 250", "chunk_size: 10"),
        name="small.yaml",
    )
    hole, spoilt = count // 4, count // 2
    parts = [Partition(i * 10, i * 10 + 9) for i in range(count) if i != hole]
    committed_looking(lake, dag, parts, stray=Partition(spoilt * 10, spoilt * 10 + 9))
    last = count * 10 - 1
    began = time.perf_counter()
    done = cli(
        "status",
        str(dag),
        *JOB,
        "--start-block",
        "0",
        "--end-block",
        str(last),
        "--store",
        lake.url,
        "--rows",
        extra_env=lake.env,
    )
    seconds = time.perf_counter() - began
    with capfd.disabled():
        print(f"\nstatus --rows over {count:,} partitions on {where}: {seconds:.2f} s")
    a, b = hole * 10, spoilt * 10
    assert (done.returncode, done.stdout.splitlines()) == (
        1,
        [
            f"blocks: {count * 10 - 20:,} blocks published in 3 run(s), 10 damaged, 10 missing; 0.0 MB, "
            f"{count * 10 - 20:,} rows",
            f"  published 0..{a - 1} ({a:,} blocks)",
            f"  published {a + 10}..{b - 1} ({b - a - 10:,} blocks)",
            f"  published {b + 10}..{last} ({last - b - 9:,} blocks)",
            f"  damaged   {b}..{b + 9} (10 blocks)",
            f"  missing   {a}..{a + 9} (10 blocks)",
        ],
    )
