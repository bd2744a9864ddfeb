"""`run --executor ray` on a real two-node Ray cluster on loopback: the bytes, the failures, the limits, the secrets."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from trace_operators.contract import Partition
from trace_operators.runtime.tasks import Task, parse_task

from tests.anvil import Node, RpcProxy
from tests.conftest import FIXTURES
from tests.s3server import S3Server
from tests.test_cryo_pipeline import dag as cryo_dag
from tests.test_run import objects, s3_objects

DAG = FIXTURES / "valid" / "bootstrap.yaml"
JOB = ("--job", "cryo_bootstrap")
#: The partition keys of the fixture job, in the order `outcomes` sorts them.
KEYS = sorted(f"{first}-{first + 999}" for first in range(0, 10_000, 1000))
LOOPBACK = "127.0.0.1"
#: The endpoint the nodes hold in their environment, and the pieces of it that are secret.
USER, PASSWORD, KEY = "ingest-user", "pw-Quartz-7731", "KeyZ9x8w7v6u5t4s3r2q"
#: Each node takes two partitions of pool monad, and one of pool shared (so two for the cluster).
NODE_RESOURCES = {"rpc_pool:monad": 2.0, "rpc_pool:shared": 1.0}
#: Ray's title for a worker process while it runs our task.
RUNNING = "ray::run_shipped"
#: A hang guard for what the cluster does in the background, never a timing.
PATIENCE = 60.0


@dataclass
class RayNodes:
    """A head and a second node of one cluster, started by this module with the endpoint in their environment."""

    cluster: Any
    head: Any
    second: Any
    root: Path
    endpoint: str

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    def session_files(self) -> Iterator[Path]:
        """Everything Ray wrote for the cluster: logs, events, spilled objects, runtime resources."""
        return (p for p in (self.root / "ray").rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="module")
def nodes(anvil: Node, moto_server: S3Server) -> Iterator[RayNodes]:
    """Two nodes on loopback with token authentication, no usage statistics, an endpoint and S3 in their env."""
    proxy = RpcProxy(anvil.url)
    endpoint = proxy.url(f"{USER}:{PASSWORD}", f"/v2/{KEY}?apikey={KEY}x")
    # Short: Ray's socket paths live under it and must fit in 108 bytes.
    root = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    node_env = {
        "RAY_TMPDIR": str(root),
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
        # Keeps Ray on loopback for this process's own connection (read when ray is imported, below).
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "TRACE_RPC_POOL_MONAD_URL": endpoint,
        "TRACE_CRYO_STAGING_DIR": str(root / "staging"),
        **moto_server.env,
    }
    with pytest.MonkeyPatch.context() as patch:
        for name, value in node_env.items():
            patch.setenv(name, value)
        from ray.cluster_utils import Cluster

        cluster = Cluster(shutdown_at_exit=True)
        try:
            head = cluster.add_node(
                node_ip_address=LOOPBACK, num_cpus=2, include_dashboard=False, resources=NODE_RESOURCES
            )
            second = cluster.add_node(node_ip_address=LOOPBACK, num_cpus=2, resources=NODE_RESOURCES)
            # The nodes keep the endpoint; drivers get only what the `env` fixture gives (no TRACE_ variables).
            patch.delenv("TRACE_RPC_POOL_MONAD_URL")
            yield RayNodes(cluster, head, second, root, endpoint)
        finally:
            cluster.shutdown()
            proxy.close()
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def local_bytes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """What the local executor publishes for the fixture job: the bytes every Ray run must match."""
    work = tmp_path_factory.mktemp("local")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACE_")}
    subprocess.run(
        [sys.executable, "-m", "cryo_ingest", "run", str(DAG), *JOB, "--store", str(work / "store")],
        env={**env, "TRACE_CRYO_STAGING_DIR": str(work / "staging")},
        check=True,
        capture_output=True,
        timeout=300,
    )
    return objects(work / "store")


def on_ray(nodes: RayNodes, *args: str) -> tuple[str, ...]:
    return (*args, "--executor", "ray", "--ray-address", nodes.address)


def summary_shape(stdout: str) -> str:
    """The summary line without its timings."""
    return re.sub(r" in [0-9.]+ s \([0-9,]+ blocks/s\)", "", stdout.splitlines()[0])


def json_lines(stderr: str) -> list[dict[str, Any]]:
    """Every line of stderr as JSON: a line that is not (Ray's prefixes, a traceback) fails the test here."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]


def outcomes(stderr: str) -> list[tuple[str, str]]:
    """(task id, outcome) of each partition's event, in task id order; nothing else is logged."""
    lines = json_lines(stderr)
    assert all("outcome" in line for line in lines), lines
    return sorted((line["task_id"], line["outcome"]) for line in lines)


def descendants(pid: int) -> list[int]:
    """The processes below `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError):
                continue
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def running(node: Any) -> list[int]:
    """The node's worker processes running one of our tasks now."""
    from ray._private import ray_constants

    raylet = node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid
    titled = []
    for pid in descendants(raylet):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(RUNNING.encode()):
                titled.append(pid)
        except OSError:
            continue
    return titled


def when_running(node: Any, act: Callable[[list[int]], None]) -> threading.Thread:
    """In the background: as soon as a task runs on `node`, `act` on the processes running one."""

    def watch() -> None:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            pids = running(node)
            if pids:
                act(pids)
                return
            time.sleep(0.01)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_the_task_json_reads_back_to_the_same_task() -> None:
    task = Task("t-1", 2, {"name": "j"}, Partition(0, 9), ((0, "00000000-0000-4000-8000-000000000001"),))
    assert parse_task(task.to_json()) == task


def test_ray_without_ray_installed_is_a_usage_error(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as it does where Ray is not installed
    monkeypatch.delitem(sys.modules, "trace_operators.runtime.executors.ray_tasks", raising=False)
    done = cli("run", str(DAG), *JOB, "--executor", "ray")
    assert done.returncode == 2
    assert done.stderr == "cryo-ingest run: --executor ray needs Ray: pip install 'cryo-ingest[ray]'\n"
    done = cli("run", str(DAG), *JOB, "--ray-address", "127.0.0.1:6379")
    assert (done.returncode, done.stderr) == (2, "cryo-ingest run: --ray-address needs --executor ray\n")


def test_ray_publishes_the_bytes_of_the_local_executor(
    cli, nodes: RayNodes, local_bytes: dict[str, bytes], tmp_path: Path, s3_bucket, moto_server: S3Server
) -> None:
    local = cli("run", str(DAG), *JOB, "--store", str(tmp_path / "local"), "--log-format", "json", check=True)
    ray = cli(*on_ray(nodes, "run", str(DAG), *JOB, "--store", "ray", "--log-format", "json"), check=True)
    assert objects(tmp_path / "ray") == objects(tmp_path / "local") == local_bytes
    assert summary_shape(ray.stdout) == summary_shape(local.stdout)
    assert summary_shape(ray.stdout).startswith("10/10 partitions published, 10,000 blocks, 211,012 rows, ")
    assert ray.stdout.splitlines()[1] == f"published under file://{tmp_path / 'ray'}/cryo/10143/"
    assert outcomes(ray.stderr) == outcomes(local.stderr) == [(f"cryo_bootstrap-{k}", "published") for k in KEYS]

    # Through RAY_ADDRESS, into S3 with the nodes' own credentials: the same objects, key for key.
    s3 = cli(
        "run",
        str(DAG),
        *JOB,
        "--store",
        s3_bucket.url,
        "--executor",
        "ray",
        extra_env={"RAY_ADDRESS": nodes.address, **moto_server.env},
        check=True,
    )
    assert summary_shape(s3.stdout) == summary_shape(local.stdout)
    assert s3_objects(s3_bucket) == local_bytes


def test_two_drivers_never_run_more_of_a_pool_than_its_nodes_declare(
    cli, cli_process, nodes: RayNodes, tmp_path: Path
) -> None:
    shared = tmp_path / "shared.yaml"
    shared.write_text(DAG.read_text().replace("rpc_pool: monad", "rpc_pool: shared"))
    seen: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        # How many of our tasks run at each instant, from the nodes' own processes (Ray titles a busy worker).
        while not stop.is_set():
            seen.append(len(running(nodes.head)) + len(running(nodes.second)))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    other: list[subprocess.CompletedProcess[str]] = []
    second = threading.Thread(
        target=lambda: other.append(cli_process(*on_ray(nodes, "run", str(shared), *JOB, "--store", "b")))
    )
    second.start()
    first = cli(*on_ray(nodes, "run", str(shared), *JOB, "--store", "a"), check=True)
    second.join()
    stop.set()
    sampler.join()
    assert first.stdout.startswith("10/10 partitions published") and other[0].returncode == 0, other[0].stderr
    assert other[0].stdout.startswith("10/10 partitions published")
    # Two drivers x max_concurrency 4 would be 8 at once and the nodes' 4 CPUs 4; the pool's 2 units allow 2.
    assert max(seen) == 2, sorted(set(seen))


def test_a_worker_killed_mid_task_is_retried_and_publishes_once(
    cli, nodes: RayNodes, local_bytes: dict[str, bytes], tmp_path: Path
) -> None:
    killed: list[int] = []

    def kill(pids: list[int]) -> None:
        os.kill(pids[0], signal.SIGKILL)
        killed.append(pids[0])

    watcher = when_running(nodes.second, kill)
    done = cli(*on_ray(nodes, "run", str(DAG), *JOB), check=True)
    watcher.join()
    assert killed and not Path(f"/proc/{killed[0]}").exists()
    assert done.stdout.startswith("10/10 partitions published")
    lost = [line for line in done.stderr.splitlines() if "the task was lost on the Ray cluster" in line]
    assert lost and lost[0].startswith("WARNING task cryo_bootstrap-")
    assert "WorkerCrashedError" in lost[0]
    assert objects(tmp_path / "cryo-data") == local_bytes


def test_secrets_stay_on_the_nodes(cli, nodes: RayNodes, anvil: Node, tmp_path: Path) -> None:
    path = cryo_dag(tmp_path, 29, partition_size=10, chunk_size=10)
    # The driver resolves the job as `run` always does; the nodes use their own endpoint.
    driver_env = {"TRACE_RPC_POOL_MONAD_URL": f"http://127.0.0.1:1/v2/{KEY}-driver"}
    done = cli(
        *on_ray(nodes, "run", str(path), "--job", "chain", "--extractor", "cryo", "--log-format", "json"),
        extra_env=driver_env,
        check=True,
    )
    assert done.stdout.startswith("3/3 partitions published, 30 blocks, ")
    said = done.stdout + done.stderr
    for secret in (USER, PASSWORD, KEY, nodes.endpoint):
        assert secret not in said
        for file in nodes.session_files():
            assert secret.encode() not in file.read_bytes(), file


def test_sigterm_cancels_the_tasks_in_flight_on_the_cluster(
    env: dict[str, str], nodes: RayNodes, tmp_path: Path
) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cryo_ingest",
            *on_ray(nodes, "run", str(DAG), *JOB, "--start-block", "0", "--end-block", "999999"),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    store = tmp_path / "cryo-data"
    deadline = time.monotonic() + PATIENCE
    while not (any(store.rglob("_SUCCESS")) and (running(nodes.head) or running(nodes.second))):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "interrupted" in err and "Traceback" not in err
    # Each task in flight stopped where it was, and its `finally` removed its staging.
    assert running(nodes.head) == running(nodes.second) == []
    assert not list(nodes.staging.rglob("*.parquet"))
    for marker in store.rglob("_SUCCESS"):
        files = json.loads(marker.read_text())["files"]
        assert all((store / f["key"]).stat().st_size == f["bytes"] for f in files)


def test_without_an_address_a_loopback_cluster_runs_for_the_run_only(
    cli_process, local_bytes: dict[str, bytes], tmp_path: Path
) -> None:
    token = Path.home() / ".ray" / "auth_token"
    had_token = token.exists()
    done = cli_process("run", str(DAG), *JOB, "--executor", "ray", "--log-format", "json", check=True)
    assert token.exists() == had_token  # the run's random token stayed in its own environment
    assert done.stdout.startswith("10/10 partitions published")
    [started] = [line for line in json_lines(done.stderr) if "outcome" not in line]
    assert re.fullmatch(r"started a Ray cluster on 127\.0\.0\.1:\d+ for this run", started["message"])
    assert objects(tmp_path / "cryo-data") == local_bytes


def test_a_node_removed_mid_run_leaves_every_partition_published_once(
    cli, nodes: RayNodes, local_bytes: dict[str, bytes], tmp_path: Path
) -> None:
    """Last: the cluster has one node after it."""
    removed: list[bool] = []

    def remove(_: list[int]) -> None:
        nodes.cluster.remove_node(nodes.second, allow_graceful=False)
        removed.append(True)

    watcher = when_running(nodes.second, remove)
    done = cli(*on_ray(nodes, "run", str(DAG), *JOB), check=True)
    watcher.join()
    assert removed
    # Whether a task was on the node at that instant is the scheduler's: what must hold is the outcome.
    assert done.stdout.startswith("10/10 partitions published")
    assert objects(tmp_path / "cryo-data") == local_bytes
