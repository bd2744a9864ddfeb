"""`cryo-ingest follow` on anvil, mining while it runs: threshold and cron triggers, restarts, a deep reorg.

Each test has its own anvil (it mines and reverts), and runs follow as a child process stopped by a signal, as
a shell would. anvil's `finalized` block is its head less 64; behind a proxy that refuses `finalized`, follow
falls back on the job's finality_depth_blocks.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cryo_ingest import read
from cryo_ingest.follow.committed import block_hash, committed_tip
from cryo_ingest.follow.follower import emitted
from cryo_ingest.read import JobView
from trace_operators.contract import FatalError, Partition
from trace_operators.dag.sources import Trigger
from trace_operators.stores import open_store

from tests.anvil import CHAIN_ID, Node, start_anvil
from tests.chain import rpc
from tests.faultproxy import Delay, Fault, FaultProxy, Request, rewrite_answers

#: anvil's finalized block is this far behind its head (two epochs of 32 slots).
ANVIL_FINALITY = 64
THRESHOLD = 10
#: How long a condition may take before the test fails: a bound against hanging, not a timing assertion.
PATIENCE = 15.0


@pytest.fixture
def node() -> Iterator[Node]:
    """An anvil of its own, empty, mining only when told."""
    started = start_anvil(CHAIN_ID)
    try:
        yield started
    finally:
        started.stop()


def mine(node: Node, blocks: int) -> None:
    rpc(node.url, "anvil_mine", hex(blocks))


def head(url: str) -> int:
    return int(rpc(url, "eth_blockNumber"), 16)


def finalized(url: str) -> int:
    return int(rpc(url, "eth_getBlockByNumber", "finalized", False)["number"], 16)


def dag(tmp_path: Path, upstream: dict[str, Any], **config: Any) -> Path:
    """A DAG of `upstream` and a cryo_ingest job `tip` (blocks and logs) taking its input from it."""
    tip = {
        "name": "tip",
        "operator": "cryo_ingest",
        "inputs": [{"from": {"job": upstream["name"], "output": 0}}],
        "config": {
            "chain_id": CHAIN_ID,
            "datasets": ["blocks", "logs"],
            "rpc_pool": "monad",
            "chunk_size": 5,
            **config,
        },
        "outputs": 2,
    }
    path = tmp_path / "dag.yaml"
    path.write_text(json.dumps({"name": "follow", "jobs": [upstream, tip]}))
    return path


def threshold_source(blocks: int = THRESHOLD) -> dict[str, Any]:
    config = {"chain_id": CHAIN_ID, "rpc_pool": "monad", "emit_strategy": "threshold", "threshold_blocks": blocks}
    return {"name": "follower", "activation": "source", "operator": "block_follower", "config": config, "outputs": 1}


class Following:
    """`cryo-ingest follow DAG --job tip --extractor cryo` in a child process, its output in files."""

    def __init__(self, path: Path, env: dict[str, str], url: str, cwd: Path, run: int) -> None:
        self.out, self.err = cwd / f"follow-{run}.out", cwd / f"follow-{run}.err"
        command = [sys.executable, "-m", "cryo_ingest", "follow", str(path), "--job", "tip"]
        command += ["--extractor", "cryo", "--poll-seconds", "0.1"]
        with self.out.open("w") as out, self.err.open("w") as err:
            env = {**env, "TRACE_RPC_POOL_MONAD_URL": url}
            self.process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)

    def stop(self, number: int = signal.SIGINT) -> subprocess.CompletedProcess[str]:
        """Signal the process group, as a terminal's Ctrl-C does (Cryo's child gets it too), and wait."""
        os.killpg(self.process.pid, number)
        return self.finish()

    def finish(self) -> subprocess.CompletedProcess[str]:
        code = self.process.wait(timeout=PATIENCE)
        return subprocess.CompletedProcess(self.process.args, code, self.out.read_text(), self.err.read_text())

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def follow(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[Path, str], Following]]:
    """Start follow runs; any still running at the end is killed."""
    started: list[Following] = []

    def start(path: Path, url: str) -> Following:
        started.append(Following(path, env, url, tmp_path, len(started)))
        return started[-1]

    yield start
    for following in started:
        following.kill()


def published(path: Path, tmp_path: Path) -> list[int]:
    """The block numbers of the current view of `blocks`, as a reader gets them."""
    options = {"job": "tip", "dataset": "blocks", "store": str(tmp_path / "cryo-data"), "extractor": "cryo"}
    if not read.files(path, **options):  # a dataset of no files has no columns
        return []
    return read.dataset(path, **options).to_table().column("block_number").to_pylist()


def wait_until_published(
    path: Path, tmp_path: Path, following: Following, last: int, safe: Callable[[], int]
) -> list[int]:
    """Wait for blocks 0..`last` to be published; every look, nothing past what `safe()` says is safe."""
    deadline = time.monotonic() + PATIENCE
    while True:
        blocks = published(path, tmp_path)
        assert not blocks or max(blocks) <= safe(), f"published {max(blocks)}, past the safe head"
        if blocks and max(blocks) >= last:
            return blocks
        if following.process.poll() is not None:
            done = following.finish()
            pytest.fail(f"follow exited {done.returncode} before block {last}: {done.stderr}")
        if time.monotonic() > deadline:
            log = following.err.read_text()[-2000:]
            pytest.fail(f"blocks up to {last} not published within {PATIENCE} s; published: {blocks[-1:]}\n{log}")
        time.sleep(0.05)


def whole(last: int) -> int:
    """The last block of the whole threshold partitions up to `last`."""
    return (last + 1) // THRESHOLD * THRESHOLD - 1


def node_hashes(url: str, numbers: list[int]) -> list[str]:
    return [rpc(url, "eth_getBlockByNumber", hex(n), False)["hash"] for n in numbers]


def test_threshold_follow_publishes_each_finalized_block_once_and_resumes_after_a_restart(
    node: Node, follow: Callable[[Path, str], Following], tmp_path: Path
) -> None:
    path = dag(tmp_path, threshold_source())
    mine(node, 100)  # finalized: 36
    first = follow(path, node.url)
    wait_until_published(path, tmp_path, first, whole(finalized(node.url)), lambda: finalized(node.url))
    mine(node, 25)  # finalized: 61, so 30..59 in three partitions
    wait_until_published(path, tmp_path, first, whole(finalized(node.url)), lambda: finalized(node.url))
    stopped = first.stop(signal.SIGTERM)
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.startswith("6/6 partitions published, 60 blocks, ")
    assert "cryo-ingest follow: stopped cleanly; committed through block 59" in stopped.stderr

    mine(node, 30)  # while it is stopped: finalized 91
    second = follow(path, node.url)
    wait_until_published(path, tmp_path, second, 89, lambda: finalized(node.url))
    mine(node, 9)  # finalized 100: one more whole partition, 90..99; block 100 waits for 109
    blocks = wait_until_published(path, tmp_path, second, 99, lambda: finalized(node.url))
    again = second.stop(signal.SIGINT)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("4/4 partitions published, 40 blocks, ")  # 60..99: nothing twice
    assert "INFO following tip from block 60" in again.stderr

    safe = finalized(node.url)
    assert (head(node.url), safe) == (164, 164 - ANVIL_FINALITY)
    assert blocks == list(range(whole(safe) + 1))
    store = str(tmp_path / "cryo-data")
    table = read.dataset(path, job="tip", dataset="blocks", store=store, extractor="cryo").to_table()
    assert ["0x" + h.hex() for h in table.column("block_hash").to_pylist()] == node_hashes(node.url, blocks)


def test_a_stop_or_a_kill_in_the_middle_of_a_partition_commits_nothing_of_it(
    node: Node, follow: Callable[[Path, str], Following], tmp_path: Path
) -> None:
    path = dag(tmp_path, threshold_source())
    mine(node, 84)  # finalized 20: partitions 0..9 and 10..19
    with FaultProxy(node.url, forward_path=False) as slow:
        asked = threading.Event()

        def delay(request: Request) -> Delay:
            asked.set()
            return Delay(0.5)  # each partition takes seconds: time to stop one in flight

        slow.rules.append(delay)
        for number in (signal.SIGTERM, signal.SIGKILL):
            running = follow(path, slow.url())
            wait_for_log(running, "safe head 20: blocks ")
            asked.clear()  # the next request is the first partition's: a stop before it would cancel nothing
            assert asked.wait(PATIENCE), running.err.read_text()
            stopped = running.stop(number)
            assert published(path, tmp_path) in ([], list(range(10)))  # whole partitions, or none
            if number == signal.SIGTERM:
                assert stopped.returncode == 0 and "stopped cleanly" in stopped.stderr, stopped.stderr
                assert "retryable_error): the task was cancelled" in stopped.stdout, stopped.stdout
            else:
                assert stopped.returncode == -signal.SIGKILL
    restarted = follow(path, node.url)
    blocks = wait_until_published(path, tmp_path, restarted, 19, lambda: finalized(node.url))
    assert restarted.stop().returncode == 0
    assert blocks == list(range(20))


def wait_for_log(following: Following, text: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while text not in following.err.read_text():
        assert following.process.poll() is None, following.err.read_text()
        assert time.monotonic() < deadline, f"no {text!r} in: {following.err.read_text()}"
        time.sleep(0.02)


def without_finality(request: Request) -> Fault | None:
    """Answer `finalized` as a node without finality does: an error."""

    def refuse(call: dict[str, Any], answer: dict[str, Any]) -> dict[str, Any]:
        if call["method"] == "eth_getBlockByNumber" and call["params"][0] == "finalized":
            return {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -39001, "message": "unknown block"}}
        return answer

    asked = any(c["method"] == "eth_getBlockByNumber" and c["params"][:1] == ["finalized"] for c in request.calls)
    return rewrite_answers(request, refuse) if asked else None


def test_cron_follow_each_second_publishes_up_to_head_less_the_finality_depth(
    node: Node, follow: Callable[[Path, str], Following], tmp_path: Path
) -> None:
    depth = 5
    cron = {"name": "each_second", "activation": "source", "operator": "trigger_cron", "outputs": 1}
    cron["source"] = {"kind": "cron", "schedule": "* * * * * *"}
    path = dag(tmp_path, cron, finality_depth_blocks=depth, partition_size=20)
    # Not `RpcProxy`: its fail_blocks rule reads every eth_getBlockByNumber parameter as a number, not a tag.
    with FaultProxy(node.url, forward_path=False) as proxy:
        proxy.rules.append(without_finality)
        mine(node, 30)
        running = follow(path, proxy.url())
        safe = lambda: head(node.url) - depth  # noqa: E731 - the condition, read each look
        wait_until_published(path, tmp_path, running, 25, safe)
        mine(node, 12)
        blocks = wait_until_published(path, tmp_path, running, 37, safe)
        done = running.stop()
    assert done.returncode == 0, done.stderr
    assert "cron source each_second, '* * * * * *' UTC" in done.stderr
    assert blocks == list(range(head(node.url) - depth + 1))
    assert re.match(r"(\d+)/\1 partitions published, 38 blocks, ", done.stdout), done.stdout
    # A tick emits everything up to the safe head in partitions of partition_size: the first one, 0..19 and
    # 20..25; the next ones, what a tick found of the 12 blocks mined while it ran (anvil mines them one by one).
    ranges = sorted(tuple(map(int, p.name.split("_"))) for p in (tmp_path / "cryo-data").glob("cryo/10143/blocks/*"))
    assert ranges[:2] == [(0, 19), (20, 25)]
    assert all(end - start < 20 and start == before + 1 for (_, before), (start, end) in pairwise(ranges))


def test_a_reorg_deeper_than_the_finality_depth_stops_follow_before_publishing(
    node: Node, follow: Callable[[Path, str], Following], tmp_path: Path
) -> None:
    path = dag(tmp_path, threshold_source())
    mine(node, 30)
    fork = rpc(node.url, "evm_snapshot")
    mine(node, 80)  # head 110, finalized 46: blocks 0..39 are committed
    running = follow(path, node.url)
    wait_until_published(path, tmp_path, running, 39, lambda: finalized(node.url))
    committed_39 = node_hashes(node.url, [39])[0]

    assert rpc(node.url, "evm_revert", fork) is True  # back to block 30, under the committed blocks
    rpc(node.url, "evm_setNextBlockTimestamp", 1_800_000_000)  # other timestamps, so other hashes
    mine(node, 90)  # head 120, finalized 56: 40..49 is due, and block 39 is no longer the one committed
    done = running.finish()
    assert done.returncode == 1
    message = done.stderr.splitlines()[-1]
    assert message.startswith("cryo-ingest follow: block 40's parent on pool monad is 0x")
    assert f"but the committed block 39 is {committed_39}" in message
    assert "a reorg deeper than the finality depth" in message and "nothing past block 39 was published" in message
    assert done.stdout.startswith("4/4 partitions published, 40 blocks, ")
    assert published(path, tmp_path) == list(range(40))
    assert not list((tmp_path / "cryo-data").glob("cryo/10143/*/40_49"))

    restarted = follow(path, node.url).finish()  # a restart refuses it the same way
    assert restarted.returncode == 1 and restarted.stderr.splitlines()[-1] == message
    assert restarted.stdout.startswith("0/0 partitions published")


def test_what_follow_refuses_to_drive(cli, tmp_path: Path) -> None:
    cron = {"name": "tick", "activation": "source", "operator": "trigger_cron", "outputs": 1}
    cron["source"] = {"kind": "cron", "schedule": "*/5 * * * *"}
    env = {"TRACE_RPC_POOL_MONAD_URL": "http://127.0.0.1:9"}  # never asked: each is refused before
    stub = cli("follow", str(dag(tmp_path, cron)), "--job", "tip", extra_env=env)
    assert stub.returncode == 2
    assert "follow asks a node for the safe head, and the stub chain has none: use --extractor cryo" in stub.stderr
    manual = {"name": "requests", "activation": "source", "operator": "range_splitter", "outputs": 1}
    by_hand = cli("follow", str(dag(tmp_path, manual)), "--job", "tip", "--extractor", "cryo", extra_env=env)
    assert by_hand.returncode == 2
    assert "job tip has none (a manual source's range requests run with: run --events FILE)" in by_hand.stderr
    no_blocks = dag(tmp_path, cron)
    no_blocks.write_text(
        no_blocks.read_text().replace('["blocks", "logs"]', '["logs"]').replace('"outputs": 2', '"outputs": 1')
    )
    logs_only = cli("follow", str(no_blocks), "--job", "tip", "--extractor", "cryo", extra_env=env)
    assert logs_only.returncode == 2 and "add blocks to datasets" in logs_only.stderr


@pytest.mark.parametrize(
    ("trigger", "last", "safe", "most", "partitions"),
    [
        (Trigger("t", "cron", "* * * * *"), -1, 25, 20, [(0, 19), (20, 25)]),
        (Trigger("t", "cron", "* * * * *"), 25, 25, 20, []),
        (Trigger("t", "cron", "* * * * *"), 25, 10, 20, []),
        (Trigger("t", "block_follower", threshold_blocks=10), -1, 36, 1000, [(0, 9), (10, 19), (20, 29)]),
        (Trigger("t", "block_follower", threshold_blocks=10), 29, 38, 1000, []),
        (Trigger("t", "block_follower", threshold_blocks=10), 29, 39, 4, [(30, 33), (34, 37), (38, 39)]),
        (Trigger("t", "block_follower"), 4, 6, 1000, [(5, 5), (6, 6)]),
    ],
)
def test_what_a_wake_up_emits(
    trigger: Trigger, last: int, safe: int, most: int, partitions: list[tuple[int, int]]
) -> None:
    assert emitted(trigger, last, safe, most) == [Partition(start, end) for start, end in partitions]


def test_the_last_committed_block_is_where_a_dataset_first_has_a_gap(cli, tmp_path: Path) -> None:
    manual = {"name": "requests", "activation": "source", "operator": "range_splitter", "outputs": 1}
    path = dag(tmp_path, manual)
    for start, end in ((10, 19), (20, 29), (40, 49)):
        cli("run", str(path), "--job", "tip", "--start-block", str(start), "--end-block", str(end), check=True)
    job = json.loads(path.read_text())["jobs"][1]
    store = tmp_path / "cryo-data"
    view = JobView(job, open_store(str(store), {}), "stub")
    tip = committed_tip(view, None)  # from the first committed block, 10
    blocks = read.dataset(path, job="tip", dataset="blocks", store=str(store)).to_table().to_pydict()
    assert (tip.block, tip.hash) == (29, blocks["block_hash"][blocks["block_number"].index(29)])
    assert committed_tip(view, 0).text() == "nothing committed from block 0 on"
    [marker] = store.glob("cryo/10143/logs/20_29/*/_SUCCESS")
    marker.unlink()  # logs of 20..29 are no longer committed: every dataset must be
    assert committed_tip(view, None).block == 19


def test_a_hash_is_read_from_binary_and_from_hex_columns(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), {})
    hash_ = bytes(range(32))
    for name, column in (("binary", [hash_]), ("hex", ["0x" + hash_.hex()])):
        pq.write_table(pa.table({"block_number": pa.array([7], pa.uint32()), "block_hash": column}), tmp_path / name)
        assert block_hash(store, name, 7) == hash_
    pq.write_table(pa.table({"block_number": pa.array([7], pa.uint32())}), tmp_path / "excluded")
    with pytest.raises(FatalError, match="which this job excludes: keep the block_hash column"):
        block_hash(store, "excluded", 7)
