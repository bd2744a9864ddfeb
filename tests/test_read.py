"""The read side: the README's recipes run as written, `cryo-ingest files`, and the current view's choice on overlaps.

Every store is a real one: a local directory, or moto's S3 server over HTTP. The recipes are taken from the README
itself, so that a change there that breaks them breaks this file too.
"""

from __future__ import annotations

import ast
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from cryo_ingest import read
from trace_operators.contract import FatalError

from tests.conftest import FIXTURES, ROOT, Cli
from tests.s3server import REGION, S3Bucket, S3Server

DAG = FIXTURES / "valid" / "bootstrap.yaml"
JOB = ("--job", "cryo_bootstrap")
README = ROOT / "README.md"
#: The chunk files of the fixture DAG: chunk_size 250, partitions of 1,000 blocks from block 0.
CHUNK, PARTITION = 250, 1000
#: How often an interrupted run is tried again when the signal did not land while a partition was being uploaded.
INTERRUPT_ATTEMPTS = 8


# --- stores -------------------------------------------------------------------------------------------------------


@dataclass
class Lake:
    """A store under test, as the CLI names it (`url`) and as a test looks into it and tampers with it.

    Keys are relative to the store's root (`cryo/10143/...`), whatever the store's own prefix.
    """

    url: str
    root: Path | None = None
    bucket: S3Bucket | None = None
    server: S3Server | None = None

    @property
    def env(self) -> dict[str, str]:
        """What a CLI run needs to reach the store: the AWS environment of moto's server, for S3."""
        return self.server.env if self.server is not None else {}

    def _s3_key(self, key: str) -> str:
        return f"lake/{key}"

    def keys(self) -> dict[str, int]:
        """Every object of the store (temporary files of a local store left out), by key, with its size."""
        if self.root is not None:
            found = {}
            for folder, _, names in os.walk(self.root):
                for name in names:
                    if not name.startswith("."):
                        path = Path(folder, name)
                        found[path.relative_to(self.root).as_posix()] = path.stat().st_size
            return found
        assert self.bucket is not None
        pages = self.bucket.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket.name, Prefix="lake/")
        return {o["Key"].removeprefix("lake/"): o["Size"] for page in pages for o in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        if self.root is not None:
            return (self.root / key).read_bytes()
        assert self.bucket is not None
        return bytes(self.bucket.client.get_object(Bucket=self.bucket.name, Key=self._s3_key(key))["Body"].read())

    def put(self, key: str, data: bytes) -> None:
        if self.root is not None:
            (self.root / key).parent.mkdir(parents=True, exist_ok=True)
            (self.root / key).write_bytes(data)
            return
        assert self.bucket is not None
        self.bucket.client.put_object(Bucket=self.bucket.name, Key=self._s3_key(key), Body=data)

    def delete(self, key: str) -> None:
        assert key in self.keys(), key
        if self.root is not None:
            (self.root / key).unlink()
            return
        assert self.bucket is not None
        self.bucket.client.delete_object(Bucket=self.bucket.name, Key=self._s3_key(key))

    def clear(self) -> None:
        for key in self.keys():
            self.delete(key)

    def url_of(self, key: str) -> str:
        """The URL `files` prints for an object: a local path, or `s3://bucket/key`."""
        if self.root is not None:
            return str(self.root / key)
        assert self.bucket is not None
        return f"s3://{self.bucket.name}/{self._s3_key(key)}"

    def key_of(self, url: str) -> str:
        """The key of an object `files` printed."""
        if self.root is not None:
            return Path(url).relative_to(self.root).as_posix()
        prefix = self.url_of("")
        assert url.startswith(prefix), url
        return url[len(prefix) :]


def local_lake(tmp_path: Path) -> Lake:
    root = (tmp_path / "cryo-data").resolve()
    return Lake(str(root), root=root)


def s3_lake(request: pytest.FixtureRequest) -> Lake:
    bucket: S3Bucket = request.getfixturevalue("s3_bucket")
    server: S3Server = request.getfixturevalue("moto_server")
    return Lake(f"{bucket.url}/lake", bucket=bucket, server=server)


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """An empty store: a local directory (`cryo-data` in the test's directory), or a prefix of a bucket on moto."""
    return local_lake(tmp_path) if request.param == "local" else s3_lake(request)


# --- DAGs and runs ------------------------------------------------------------------------------------------------


def dag_variant(tmp_path: Path, name: str, *edits: tuple[str, str]) -> Path:
    """A copy of the fixture DAG with each `old` text replaced by `new` (each must be there)."""
    text = DAG.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / name
    path.write_text(text)
    return path


def blocks_only(tmp_path: Path, *edits: tuple[str, str], name: str = "blocks.yaml") -> Path:
    """The fixture DAG with one dataset, `blocks` (a quarter of the work, the same job name), and `edits`."""
    one = (("datasets: [blocks, transactions, logs, traces]", "datasets: [blocks]"), ("outputs: 4", "outputs: 1"))
    return dag_variant(tmp_path, name, *one, *edits)


def rechunked(tmp_path: Path) -> Path:
    """The fixture DAG with another `chunk_size`: an output option, so other versions beside the job's."""
    return dag_variant(tmp_path, "rechunked.yaml", ("chunk_size: 250", "chunk_size: 400"))


def run(cli: Cli, lake: Lake, dag: Path, start: int, end: int) -> None:
    cli(
        "run",
        str(dag),
        *JOB,
        "--start-block",
        str(start),
        "--end-block",
        str(end),
        "--store",
        lake.url,
        extra_env=lake.env,
        check=True,
    )


def files(cli: Cli, lake: Lake, dag: Path, *extra: str, dataset: str = "blocks") -> list[str]:
    done = cli(
        "files",
        str(dag),
        *JOB,
        "--dataset",
        dataset,
        "--store",
        lake.url,
        "--format",
        "json",
        *extra,
        extra_env=lake.env,
        check=True,
    )
    urls: list[str] = json.loads(done.stdout)
    return urls


def status(cli: Cli, lake: Lake, dag: Path, *extra: str) -> tuple[int, dict[str, dict[str, Any]]]:
    """`status --format json`: its exit status and its report, by dataset."""
    done = cli("status", str(dag), *JOB, "--store", lake.url, "--format", "json", *extra, extra_env=lake.env)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, {entry["dataset"]: entry for entry in json.loads(done.stdout)}


def runs(*ranges: tuple[int, int]) -> list[dict[str, int]]:
    """Runs of blocks as `status --format json` writes them."""
    return [{"start": start, "end": end, "blocks": end - start + 1} for start, end in ranges]


def blocks_of(report: list[dict[str, int]]) -> list[int]:
    return [block for run_ in report for block in range(run_["start"], run_["end"] + 1)]


_PARTITION_DIR = re.compile(r"/(\d+)_(\d+)/[0-9a-f-]{36}/")
_CHUNK_FILE = re.compile(r"__(\d{8})_to_(\d{8})\.parquet$")


def partitions_of(urls: list[str]) -> list[tuple[int, int]]:
    """The version prefixes (as block ranges) that a list of URLs reads from, in the order it reads them."""
    found: list[tuple[int, int]] = []
    for url in urls:
        match = _PARTITION_DIR.search(url)
        assert match, url
        part = (int(match[1]), int(match[2]))
        if not found or found[-1] != part:
            found.append(part)
    return found


def chunks_of(urls: list[str]) -> list[tuple[int, int]]:
    found = []
    for url in urls:
        match = _CHUNK_FILE.search(url)
        assert match, url
        found.append((int(match[1]), int(match[2])))
    return found


def interrupt(lake: Lake, dag: Path, tmp_path: Path, env: dict[str, str], stop: int) -> None:
    """Run the job over a long range in a child process and stop it with `stop` while a partition uploads.

    What is left: prefixes committed before the signal, and at least one with chunk files but no `_SUCCESS`.
    A signal that lands too late (the partition's last chunk file uploaded, after which it commits) leaves no such
    prefix: then the store is emptied and the run tried again.
    """
    log = tmp_path / "interrupted.log"
    for _ in range(INTERRUPT_ATTEMPTS):
        lake.clear()
        with log.open("w") as stderr:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "cryo_ingest",
                    "run",
                    str(dag),
                    *JOB,
                    "--start-block",
                    "0",
                    "--end-block",
                    "999999",
                    "--store",
                    lake.url,
                ],
                cwd=tmp_path,
                env={**env, **lake.env},
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + 120
                while not half_done(lake.keys()):
                    assert process.poll() is None, log.read_text()
                    assert time.monotonic() < deadline, "no partition was committed in 120 s"
                os.killpg(process.pid, stop)
                process.wait(timeout=120)
            finally:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        assert process.returncode == (-stop if stop == signal.SIGKILL else 128 + stop), log.read_text()
        if half_done(lake.keys(), uploading=False):
            return
    pytest.fail(f"{INTERRUPT_ATTEMPTS} runs stopped by signal {stop} left no prefix without _SUCCESS")


def version_prefixes(keys: dict[str, int]) -> dict[str, set[str]]:
    """The names in each version prefix `cryo/{chain}/{dataset}/{start}_{end}/{version}/`."""
    found: dict[str, set[str]] = {}
    for key in keys:
        prefix, _, name = key.rpartition("/")
        if prefix.count("/") == 4:
            found.setdefault(prefix + "/", set()).add(name)
    return found


def half_done(keys: dict[str, int], uploading: bool = True) -> bool:
    """Whether a prefix was committed and another has chunk files but no `_SUCCESS`; with `uploading`, no
    `_manifest.json` yet either (a partition uploading its chunk files, which stops at the next one on SIGINT)."""
    names = version_prefixes(keys).values()
    unmarked = {"_SUCCESS", "_manifest.json"} if uploading else {"_SUCCESS"}
    return any("_SUCCESS" in n for n in names) and any(not n & unmarked and any_parquet(n) for n in names)


def any_parquet(names: set[str]) -> bool:
    return any(name.endswith(".parquet") for name in names)


# --- the README's recipes -----------------------------------------------------------------------------------------


def readme_recipes() -> dict[str, str]:
    """The python blocks of the README's "Reading the data", by the library each reads with."""
    section = re.search(r"^## Reading the data\n(.*?)^## ", README.read_text(), re.S | re.M)
    assert section, "README.md has no section '## Reading the data'"
    blocks = re.findall(r"^```python\n(.*?)^```", section[1], re.S | re.M)
    recipes = {"duckdb" if "duckdb" in b else "polars" if "polars" in b else "pyarrow": b for b in blocks}
    assert len(blocks) == 3 and sorted(recipes) == ["duckdb", "polars", "pyarrow"], blocks
    return recipes


def substitute(code: str, old: str, new: str) -> str:
    assert old in code, f"the README's recipe no longer holds {old!r}; update the test to what it says now:\n{code}"
    return code.replace(old, new)


def recipe(library: str, lake: Lake, dag: Path) -> str:
    """The README's recipe for `library`, with the DAG, the store and (for S3) the reader's S3 set-up of our server."""
    code = substitute(readme_recipes()[library], '"dag.yaml"', json.dumps(str(dag)))
    if library == "pyarrow":
        code = substitute(code, 'store="cryo-data"', f"store={json.dumps(lake.url)}")
    if lake.server is None:
        return code
    endpoint = lake.server.endpoint
    if library == "duckdb":
        # "for S3, load httpfs and create an S3 secret first": the extension from its wheel, nothing downloaded.
        host = endpoint.removeprefix("http://")
        prelude = (
            "import duckdb\n"
            "from duckdb_extensions import import_extension\n"
            'import_extension("httpfs")\n'
            'duckdb.sql("LOAD httpfs")\n'
            "duckdb.sql(\"CREATE OR REPLACE SECRET cryo_test (TYPE s3, KEY_ID 'testing', SECRET 'testing', "
            f"REGION '{REGION}', ENDPOINT '{host}', URL_STYLE 'path', USE_SSL false)\")\n"
        )
        return prelude + code
    if library == "polars":
        options = {
            "aws_endpoint_url": endpoint,
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
            "aws_region": REGION,
            "aws_allow_http": "true",
        }
        return substitute(code, "pl.scan_parquet(urls)", f"pl.scan_parquet(urls, storage_options={options!r})")
    return code


def run_recipe(code: str) -> dict[str, Any]:
    """Run a recipe as a script would; its names afterwards, the value of a last bare expression as `result`."""
    tree = ast.parse(code)
    last = tree.body[-1]
    if isinstance(last, ast.Expr):
        tree.body[-1] = ast.copy_location(ast.Assign([ast.Name("result", ast.Store())], last.value), last)
    namespace: dict[str, Any] = {"__name__": "__readme__"}
    exec(compile(ast.fix_missing_locations(tree), str(README), "exec"), namespace)
    return namespace


@pytest.fixture
def reader_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    """A reader's shell: in the test's directory (where `./cryo-data` is), `cryo-ingest` on the PATH, no TRACE_*."""
    with monkeypatch.context() as patch:
        patch.chdir(tmp_path)
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        for name in [n for n in os.environ if n.startswith("TRACE_")]:
            patch.delenv(name)
        patch.setenv("TRACE_CRYO_STAGING_DIR", str(tmp_path / "staging"))
        yield patch


def glob_read(lake: Lake) -> tuple[int, int]:
    """Rows and distinct blocks of a bare glob over the store's `blocks`: what the README says not to do."""
    import duckdb

    pattern = lake.url_of("cryo/10143/blocks") + "/**/*.parquet"
    found = duckdb.sql(f"SELECT count(*), count(DISTINCT block_number) FROM read_parquet('{pattern}')").fetchall()
    return found[0]


def check_recipes(cli: Cli, lake: Lake, dag: Path, reader_env: pytest.MonkeyPatch, expected: list[int]) -> None:
    """Each recipe reads each block of `expected` once, from the same files `files` lists."""
    listed = files(cli, lake, dag)
    if lake.server is not None:
        reader_env.setenv("TRACE_CRYO_STORE", lake.url)  # the recipes that name no store read the default one
    count = len(expected)

    pyarrow = run_recipe(recipe("pyarrow", lake, dag))
    table = pyarrow["blocks"]
    assert table.num_rows == count
    assert pc.count_distinct(table.column("block_number")).as_py() == count
    assert sorted(table.column("block_number").to_pylist()) == expected
    assert pyarrow["urls"] == listed

    duck = run_recipe(recipe("duckdb", lake, dag))
    assert duck["urls"] == listed
    assert duck["result"] == [(count, count)]

    polars = run_recipe(recipe("polars", lake, dag))
    assert polars["urls"] == listed
    assert polars["result"].row(0) == (count, count)


def test_the_readme_has_one_recipe_per_reader() -> None:
    recipes = readme_recipes()
    assert "read.dataset(" in recipes["pyarrow"] and "read.files(" in recipes["pyarrow"]
    assert '"files"' in recipes["duckdb"] and "read_parquet" in recipes["duckdb"]
    assert "read.files(" in recipes["polars"] and "pl.scan_parquet" in recipes["polars"]


def test_recipes_after_a_chunk_size_change(
    cli: Cli, lake: Lake, tmp_path: Path, reader_env: pytest.MonkeyPatch
) -> None:
    """Old versions (chunks of 400) stay beside the job's (chunks of 250): the view reads only the job's."""
    dag, old = blocks_only(tmp_path), blocks_only(tmp_path, ("chunk_size: 250", "chunk_size: 400"), name="old.yaml")
    run(cli, lake, old, 0, 2999)
    run(cli, lake, dag, 0, 1999)
    code, report = status(cli, lake, dag, "--start-block", "0", "--end-block", "2999")
    assert code == 1
    assert report["blocks"]["published"] == runs((0, 1999)) and report["blocks"]["other_config_versions"] == 3
    check_recipes(cli, lake, dag, reader_env, blocks_of(report["blocks"]["published"]))
    assert glob_read(lake) == (5000, 3000)  # a glob reads blocks 0..1999 twice
    # The other config's own view: its three partitions, each block once, though the store holds more.
    check_recipes(cli, lake, old, reader_env, list(range(3000)))


def test_recipes_after_an_overlapping_run(cli: Cli, lake: Lake, tmp_path: Path, reader_env: pytest.MonkeyPatch) -> None:
    """A run from block 500 publishes 500..1499 and 1500..2499 again, under other partitions."""
    dag = blocks_only(tmp_path)
    run(cli, lake, dag, 0, 2999)
    run(cli, lake, dag, 500, 2499)
    listed = files(cli, lake, dag)
    assert partitions_of(listed) == [(0, 999), (1000, 1999), (2000, 2999)]
    code, report = status(cli, lake, dag, "--start-block", "0", "--end-block", "2999")
    assert code == 0 and report["blocks"]["published"] == runs((0, 2999))
    check_recipes(cli, lake, dag, reader_env, list(range(3000)))
    assert glob_read(lake) == (5000, 3000)  # a glob reads blocks 500..2499 twice


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_recipes_after_an_interrupted_run(
    cli: Cli, lake: Lake, tmp_path: Path, env: dict[str, str], reader_env: pytest.MonkeyPatch, stop: int
) -> None:
    """A run stopped mid-upload leaves chunk files without `_SUCCESS`: no reader sees them, `status` calls them
    missing, and the recipes read exactly the blocks `status` calls published."""
    # Chunks of 50 blocks: 20 uploads a partition, so that a signal has time to land between two of them.
    dag = blocks_only(tmp_path, ("chunk_size: 250", "chunk_size: 50"), ("end_block: 9999", "end_block: 999999"))
    interrupt(lake, dag, tmp_path, env, stop)
    prefixes = version_prefixes(lake.keys())
    unmarked = sorted(p for p, names in prefixes.items() if "_SUCCESS" not in names)
    assert unmarked
    code, report = status(cli, lake, dag)
    blocks = report["blocks"]
    assert code == 1 and blocks["published"] and blocks["damaged"] == []
    for prefix in unmarked:
        start, end = map(int, prefix.split("/")[3].split("_"))
        assert any(r["start"] <= start and end <= r["end"] for r in blocks["missing"]), (prefix, blocks["missing"])
    expected = blocks_of(blocks["published"])
    listed = files(cli, lake, dag)
    assert not [url for url in listed if any(lake.key_of(url).startswith(p) for p in unmarked)]
    check_recipes(cli, lake, dag, reader_env, expected)
    rows, distinct = glob_read(lake)
    assert rows == distinct > len(expected)  # a glob reads the uncommitted files too


# --- files ----------------------------------------------------------------------------------------------------------


def planned_versions(cli: Cli, dag: Path, start: int, end: int, dataset: str = "blocks") -> dict[int, str]:
    """`plan`'s dataset_version of `dataset` for each partition of the range, by its first block."""
    done = cli(
        "plan", str(dag), *JOB, "--start-block", str(start), "--end-block", str(end), "--format", "json", check=True
    )
    return {row["start"]: row["dataset_version"] for row in json.loads(done.stdout) if row["dataset"] == dataset}


def chunk_urls(lake: Lake, versions: dict[int, str], dataset: str = "blocks") -> list[str]:
    return [
        lake.url_of(
            f"cryo/10143/{dataset}/{start}_{start + PARTITION - 1}/{version}/"
            f"10143__{dataset}__{first:08d}_to_{first + CHUNK - 1:08d}.parquet"
        )
        for start, version in sorted(versions.items())
        for first in range(start, start + PARTITION, CHUNK)
    ]


def test_files_exact_urls_as_text_and_json(cli: Cli, lake: Lake) -> None:
    run(cli, lake, DAG, 0, 1999)
    expected = chunk_urls(lake, planned_versions(cli, DAG, 0, 1999))
    assert len(expected) == 8
    args = ("files", str(DAG), *JOB, "--dataset", "blocks", "--store", lake.url)
    text = cli(*args, extra_env=lake.env)
    assert (text.returncode, text.stdout, text.stderr) == (0, "".join(url + "\n" for url in expected), "")
    as_json = cli(*args, "--format", "json", extra_env=lake.env)
    assert (as_json.returncode, as_json.stdout) == (0, json.dumps(expected) + "\n")
    assert read.files(DAG, "cryo_bootstrap", "blocks", store=lake.url, env={**os.environ, **lake.env}) == expected
    txs = files(cli, lake, DAG, dataset="txs")  # an alias names the same dataset
    assert txs == chunk_urls(lake, planned_versions(cli, DAG, 0, 1999, "transactions"), "transactions")


def test_files_are_in_block_order_past_block_ten_thousand(cli: Cli, tmp_path: Path) -> None:
    """Numeric order, not the listing's: `10000_10999` sorts before `9000_9999` as text."""
    lake = local_lake(tmp_path)
    dag = blocks_only(tmp_path)
    run(cli, lake, dag, 9000, 10999)
    run(cli, lake, dag, 0, 999)
    listed = files(cli, lake, dag, "--start-block", "0", "--end-block", "10999")
    assert partitions_of(listed) == [(0, 999), (9000, 9999), (10000, 10999)]
    firsts = [first for first, _ in chunks_of(listed)]
    assert firsts == sorted(firsts) and len(firsts) == len(set(firsts)) == 12
    # Without flags, the job's own range (0..9999) is the view's.
    assert partitions_of(files(cli, lake, dag)) == [(0, 999), (9000, 9999)]


@pytest.mark.parametrize(
    ("start", "end", "chunks"),
    [
        (900, 1100, [(750, 999), (1000, 1249)]),
        (1000, 1249, [(1000, 1249)]),
        (999, 1000, [(750, 999), (1000, 1249)]),
        (0, 0, [(0, 249)]),
        (1999, 5000, [(1750, 1999)]),
        (2000, 2999, []),
        (0, 1999, [(first, first + 249) for first in range(0, 2000, 250)]),
    ],
)
def test_files_range_keeps_the_chunk_files_holding_its_blocks(
    cli: Cli, tmp_path: Path, start: int, end: int, chunks: list[tuple[int, int]]
) -> None:
    lake = local_lake(tmp_path)
    run(cli, lake, DAG, 0, 1999)
    listed = files(cli, lake, DAG, "--start-block", str(start), "--end-block", str(end))
    assert chunks_of(listed) == chunks
    assert set(listed) <= set(files(cli, lake, DAG))


def test_files_of_an_empty_view_prints_no_line(cli: Cli, tmp_path: Path) -> None:
    """Nothing published: no URL, so no line (a reader's `while read url` must not get an empty one)."""
    lake = local_lake(tmp_path)
    args = ("files", str(DAG), *JOB, "--dataset", "blocks", "--store", lake.url)
    as_json = cli(*args, "--format", "json")
    assert (as_json.returncode, as_json.stdout) == (0, "[]\n")
    text = cli(*args)
    assert (text.returncode, text.stdout) == (0, "")


def test_files_into_a_closed_pipe_exits_quietly(cli: Cli, env: dict[str, str], tmp_path: Path) -> None:
    """`cryo-ingest files … | head`: the reader goes away; no traceback, the shell's SIGPIPE status."""
    lake = local_lake(tmp_path)
    run(cli, lake, DAG, 0, 999)
    command = [sys.executable, "-m", "cryo_ingest", "files", str(DAG), *JOB, "--dataset", "blocks"]
    reader = subprocess.Popen([*command, "--store", lake.url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None and reader.stderr is not None
    reader.stdout.close()  # before a byte is written
    assert (reader.wait(60), reader.stderr.read()) == (128 + signal.SIGPIPE, b"")


def test_files_unknown_dataset_job_or_half_a_range_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    lake = local_lake(tmp_path)
    run(cli, lake, DAG, 0, 999)
    done = cli("files", str(DAG), *JOB, "--dataset", "receipts", "--store", lake.url)
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        "cryo-ingest files: --dataset: the job has no dataset 'receipts'; "
        "its datasets are: blocks, transactions, logs, traces\n",
    )
    done = cli("files", str(DAG), "--job", "cryo_boot", "--dataset", "blocks", "--store", lake.url)
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"cryo-ingest files: {DAG} has no cryo_ingest job named 'cryo_boot'; did you mean 'cryo_bootstrap'? "
        "its cryo_ingest jobs are: cryo_bootstrap\n",
    )
    done = cli("files", str(DAG), *JOB, "--dataset", "blocks", "--start-block", "5", "--store", lake.url)
    assert (done.returncode, done.stderr) == (
        2,
        "cryo-ingest files: give both --start-block and --end-block, or neither\n",
    )
    with pytest.raises(FatalError, match=r"^the job has no dataset 'receipts'; its datasets are: blocks, transactions"):
        read.files(DAG, "cryo_bootstrap", "receipts", store=lake.url)
    with pytest.raises(FatalError, match=r"job named 'cryo_boot'; did you mean 'cryo_bootstrap'\? its"):
        read.files(DAG, "cryo_boot", "blocks", store=lake.url)


# --- the view's choice on overlaps ----------------------------------------------------------------------------------


def view(cli: Cli, lake: Lake, dag: Path) -> tuple[list[tuple[int, int]], list[dict[str, int]]]:
    """The partitions the view reads, and the runs `status` calls published (over the job's range, 0..9999)."""
    listed = files(cli, lake, dag)
    chunks = chunks_of(listed)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(chunks)), f"chunk files overlap in the view: {listed}"
    parts = partitions_of(listed)
    _, report = status(cli, lake, dag)
    return parts, report["blocks"]["published"]


@pytest.mark.parametrize("off_grid_first", [True, False], ids=["off-grid-first", "grid-first"])
def test_view_the_jobs_own_partitions_win(cli: Cli, tmp_path: Path, off_grid_first: bool) -> None:
    lake, dag = local_lake(tmp_path), blocks_only(tmp_path)
    for start, end in [(500, 1499), (0, 1999)] if off_grid_first else [(0, 1999), (500, 1499)]:
        run(cli, lake, dag, start, end)
    assert view(cli, lake, dag) == ([(0, 999), (1000, 1999)], runs((0, 1999)))


def test_view_an_off_grid_partition_fills_a_gap_of_the_grid(cli: Cli, tmp_path: Path) -> None:
    lake, dag = local_lake(tmp_path), blocks_only(tmp_path)
    run(cli, lake, dag, 500, 1499)
    run(cli, lake, dag, 2000, 2999)
    assert view(cli, lake, dag) == ([(500, 1499), (2000, 2999)], runs((500, 1499), (2000, 2999)))
    code, report = status(cli, lake, dag)
    assert code == 1 and report["blocks"]["missing"] == runs((0, 499), (1500, 1999), (3000, 9999))
    # A larger partition of another run (`partition_size` is not an output option: the same config) fills too.
    wide = blocks_only(tmp_path, ("partition_size: 1000", "partition_size: 2000"), name="wide.yaml")
    run(cli, lake, wide, 4000, 7999)
    assert view(cli, lake, dag) == (
        [(500, 1499), (2000, 2999), (4000, 5999), (6000, 7999)],
        runs((500, 1499), (2000, 2999), (4000, 7999)),
    )


def test_view_never_reads_two_overlapping_versions(cli: Cli, tmp_path: Path) -> None:
    """Many overlapping runs: every block the view reads, it reads once."""
    lake, dag = local_lake(tmp_path), blocks_only(tmp_path)
    for start, end in [(500, 1499), (1000, 1999), (1200, 1299), (2500, 3499), (3000, 3999), (4100, 4199)]:
        run(cli, lake, dag, start, end)
    parts, published = view(cli, lake, dag)
    assert {(1000, 1999), (3000, 3999), (4100, 4199)} <= set(parts)  # the job's own, and one that overlaps none
    table = read.dataset(dag, "cryo_bootstrap", "blocks", store=lake.url).to_table()
    numbers = table.column("block_number").to_pylist()
    assert len(numbers) == len(set(numbers)) == len(blocks_of(published))
    assert sorted(numbers) == blocks_of(published)


def test_view_prefers_the_longer_of_two_overlapping_off_grid_partitions(cli: Cli, tmp_path: Path) -> None:
    """Neither is the job's: "then the longer", so 450..1449 (1,000 blocks) over 400..499 (100), whatever the start.

    Fails today: the view sorts by start before length, so 400..499 wins and 900 committed blocks are left unread.
    """
    lake, dag = local_lake(tmp_path), blocks_only(tmp_path)
    run(cli, lake, dag, 400, 499)
    run(cli, lake, dag, 450, 1449)
    assert view(cli, lake, dag) == ([(450, 1449)], runs((450, 1449)))


def test_view_fills_a_gap_with_the_whole_chunks_of_a_partly_overlapping_version(cli: Cli, tmp_path: Path) -> None:
    """Grid 1000..1999 and off-grid 500..1499 (chunks 500..749, 750..999, 1000..1249, 1250..1499): the gap 500..999
    is held by whole chunk files of the off-grid version, which the view can read without reading a block twice.

    Fails today: a version that overlaps a chosen one is dropped whole, so publishing 1000..1999 after 500..1499
    makes blocks 500..999 disappear from the view and `status` call them missing.
    """
    lake, dag = local_lake(tmp_path), blocks_only(tmp_path)
    run(cli, lake, dag, 500, 1499)
    assert view(cli, lake, dag)[1] == runs((500, 1499))
    run(cli, lake, dag, 1000, 1999)
    listed = files(cli, lake, dag)
    assert chunks_of(listed) == [(500, 749), (750, 999), (1000, 1249), (1250, 1499), (1500, 1749), (1750, 1999)]
    assert partitions_of(listed) == [(500, 1499), (1000, 1999)]
    _, report = status(cli, lake, dag)
    assert report["blocks"]["published"] == runs((500, 1999))
