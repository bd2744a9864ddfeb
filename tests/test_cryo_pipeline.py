"""The operator end to end with the real Cryo engine: `cryo-ingest run` and `task --extractor cryo` on anvil."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.anvil import Node, RpcProxy, free_port
from tests.freeze import freeze_directly

DATASETS = ["blocks", "transactions", "logs", "traces"]


def dag(tmp_path: Path, end: int, partition_size: int, chunk_size: int) -> Path:
    path = tmp_path / "dag.yaml"
    path.write_text(
        json.dumps(
            {
                "name": "cryo",
                "jobs": [
                    {
                        "name": "chain",
                        "operator": "cryo_ingest",
                        "scaling": {"max_concurrency": 2},
                        "config": {
                            "chain_id": 10143,
                            "datasets": DATASETS,
                            "rpc_pool": "monad",
                            "start_block": 0,
                            "end_block": end,
                            "partition_size": partition_size,
                            "chunk_size": chunk_size,
                        },
                    }
                ],
            }
        )
    )
    return path


def published_table(store: Path, dataset: str) -> pa.Table:
    """A dataset's published rows, file by file in block order, as the markers list them."""
    markers = sorted(store.glob(f"cryo/10143/{dataset}/*/*/_SUCCESS"), key=lambda p: int(p.parts[-3].split("_")[0]))
    files = [store / f["key"] for m in markers for f in json.loads(m.read_text())["files"]]
    return pa.concat_tables(pq.read_table(f) for f in files)


def frozen_table(url: str, dataset: str, end: int, out: Path) -> pa.Table:
    """The same rows written by a plain `cryo.freeze` of the whole range."""
    freeze_directly(url, [dataset], out, blocks=[f"0:{end + 1}"], network_name="10143")
    return pa.concat_tables(pq.read_table(f) for f in sorted(out.glob(f"*__{dataset}__*.parquet")))


def test_whole_chain_in_uneven_partitions_equals_cryo_freeze(cli, anvil: Node, tmp_path: Path) -> None:
    path = dag(tmp_path, anvil.head, partition_size=40, chunk_size=15)
    env = {"TRACE_RPC_POOL_MONAD_URL": anvil.url}
    done = cli("run", str(path), "--job", "chain", "--extractor", "cryo", extra_env=env, check=True)
    assert done.stdout.startswith(f"3/3 partitions published, {anvil.head + 1} blocks, ")
    store = tmp_path / "cryo-data"
    for dataset in DATASETS:
        ours = published_table(store, dataset)
        assert ours.equals(frozen_table(anvil.url, dataset, anvil.head, tmp_path / "frozen" / dataset)), dataset
    blocks = published_table(store, "blocks")
    assert blocks.column("block_number").to_pylist() == list(range(anvil.head + 1))

    before = {p: p.stat().st_mtime_ns for p in store.rglob("*")}
    again = cli("run", str(path), "--job", "chain", "--extractor", "cryo", extra_env=env, check=True)
    assert "12 dataset versions were already there" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*")} == before


def test_no_output_log_result_or_object_holds_the_pool_secrets(
    cli, rpc_proxy: RpcProxy, anvil: Node, tmp_path: Path
) -> None:
    user, password, key = "ingest-user", "pw-Quartz-7731", "KeyZ9x8w7v6u5t4s3r2q"
    url = rpc_proxy.url(f"{user}:{password}", f"/v2/{key}?apikey={key}x")
    env = {"TRACE_RPC_POOL_MONAD_URL": url}
    path = dag(tmp_path, 29, partition_size=10, chunk_size=10)
    outputs = [
        cli(
            "run", str(path), "--job", "chain", "--extractor", "cryo", "--log-format", "json", extra_env=env, check=True
        )
    ]
    rpc_proxy.fail_blocks = {45}
    outputs.append(
        cli(
            "run",
            str(path),
            "--job",
            "chain",
            "--extractor",
            "cryo",
            "--start-block",
            "40",
            "--end-block",
            "49",
            extra_env=env,
        )
    )
    assert outputs[1].returncode == 1 and "failed chain-40-49 (attempt 3, retryable_error)" in outputs[1].stdout
    task = {
        "task_id": "t-1",
        "attempt": 1,
        "job": json.loads(path.read_text())["jobs"][0],
        "partition": {"start": anvil.head + 1, "end": anvil.head + 10},
    }
    outputs.append(cli("task", "-", "--extractor", "cryo", input=json.dumps(task), extra_env=env))
    assert outputs[2].returncode == 75
    text = "".join(o.stdout + o.stderr for o in outputs)
    text += "".join(p.read_bytes().decode("latin-1") for p in (tmp_path / "cryo-data").rglob("*") if p.is_file())
    for secret in (user, password, key, url):
        assert secret not in text
    assert "pool monad" in text


def run_task(cli, end: int, env: dict[str, str], start: int = 0):
    task = {
        "task_id": "t-1",
        "attempt": 1,
        "job": {
            "name": "chain",
            "operator": "cryo_ingest",
            "config": {"chain_id": 10143, "datasets": ["blocks"], "rpc_pool": "monad"},
        },
        "partition": {"start": start, "end": end},
    }
    done = cli("task", "-", "--extractor", "cryo", input=json.dumps(task), extra_env=env)
    return done.returncode, json.loads(done.stdout)


def test_wrong_chain_is_fatal(cli, other_anvil: Node, tmp_path: Path) -> None:
    code, result = run_task(cli, 0, {"TRACE_RPC_POOL_MONAD_URL": other_anvil.url})
    assert (code, result["outcome"]) == (1, "fatal_error")
    assert result["error_message"] == "pool monad serves chain 31337, not chain 10143 of this job"
    assert not (tmp_path / "cryo-data").exists()


def test_pool_without_endpoint_is_fatal(cli, tmp_path: Path) -> None:
    code, result = run_task(cli, 0, {})
    assert (code, result["outcome"]) == (1, "fatal_error")
    assert result["error_message"].startswith("no RPC endpoint for pool 'monad': set TRACE_RPC_POOL_MONAD_URL")


def test_gateway_template_names_the_pool(cli, rpc_proxy: RpcProxy, tmp_path: Path) -> None:
    code, result = run_task(cli, 3, {"TRACE_RPC_GATEWAY_URL": rpc_proxy.url(path="/pools/{pool}")})
    assert (code, result["outcome"]) == (0, "success")
    assert {path for path, _ in rpc_proxy.seen} == {"/pools/monad"}


def test_unreachable_endpoint_is_retryable(cli, tmp_path: Path) -> None:
    code, result = run_task(cli, 0, {"TRACE_CRYO_RPC_URL": f"http://127.0.0.1:{free_port()}"})
    assert (code, result["outcome"]) == (75, "retryable_error")
    assert result["error_message"].startswith("pool monad did not answer eth_chainId: ")
    assert not (tmp_path / "cryo-data").exists()


def test_range_past_the_head_is_retryable(cli, anvil: Node, tmp_path: Path) -> None:
    code, result = run_task(cli, anvil.head + 3, {"TRACE_RPC_POOL_MONAD_URL": anvil.url}, start=anvil.head - 1)
    assert (code, result["outcome"]) == (75, "retryable_error")
    assert result["error_message"] == (
        f"blocks {anvil.head + 1}..{anvil.head + 3} are past the chain head {anvil.head} of pool monad"
    )
    assert not list((tmp_path / "cryo-data").rglob("_SUCCESS"))
