"""Manual range requests: `cryo-ingest run DAG --job NAME --events FILE|-`, each JSON line checked on its own."""

from __future__ import annotations

import io
import json
from pathlib import Path

from cryo_ingest import read
from trace_operators.contract import Partition
from trace_operators.runtime.events import MAX_LINE_BYTES, read_events

from tests.anvil import Node
from tests.chain import rpc
from tests.conftest import FIXTURES

DAG = FIXTURES / "triggers" / "manual.yaml"
JOB = "cryo_ranges"


def events(text: str | bytes):
    return read_events(io.BytesIO(text.encode() if isinstance(text, str) else text))


def test_good_lines_become_partitions_in_order() -> None:
    found = events(
        '{"partition_key": "0-99", "start": 0, "end": 99}\n'
        "\n"
        '{"start": 100, "end": 100}\r\n'
        '  {"end": 300, "start": 200, "partition_key": "backfill.2"}  '
    )
    assert found.partitions == [Partition(0, 99), Partition(100, 100), Partition(200, 300, "backfill.2")]
    assert (found.bad, found.repeats) == ([], [])


def test_each_bad_line_is_named_by_its_number_and_the_rest_still_counts() -> None:
    lines = [
        '{"start": 0, "end": 9}',
        "{start: 10}",
        '["start", 10]',
        '{"start": 10, "end": 19, "stop": 20}',
        '{"end": 19}',
        '{"start": 30, "end": 20}',
        '{"start": true, "end": 20}',
        '{"start": -1, "end": 20}',
        '{"start": 1.5, "end": 20}',
        '{"partition_key": 7, "start": 40, "end": 49}',
        '{"partition_key": "../up", "start": 40, "end": 49}',
        '{"start": 50, "end": 59}',
    ]
    found = events("\n".join(lines).encode() + b"\n\xff\xfe\n")
    assert found.partitions == [Partition(0, 9), Partition(50, 59)]
    assert [note.split(":")[0] for note in found.bad] == [f"line {n}" for n in (*range(2, 12), 13)]
    assert found.bad[0].startswith("line 2: not JSON: ")
    assert found.bad[1] == 'line 3: not a JSON object: write {"partition_key": "0-999", "start": 0, "end": 999}'
    assert found.bad[2] == "line 4: unknown key 'stop': an event has partition_key, start, end"
    assert found.bad[3] == "line 5: start is missing: an event has partition_key, start, end (the key is optional)"
    assert "are not a range" in found.bad[4] and "end is inclusive" in found.bad[4]
    assert found.bad[9].startswith("line 11: partition_key names the task: task_id must be 1 to 128 characters")
    assert found.bad[10].startswith("line 13: not UTF-8: ")


def test_a_long_line_is_refused_without_being_read_whole() -> None:
    huge = b'{"start": 0, "end": 9, "partition_key": "' + b"k" * (10 * MAX_LINE_BYTES) + b'"}\n'
    found = events(huge + b'{"start": 10, "end": 19}\n')
    assert found.bad == [f"line 1: longer than {MAX_LINE_BYTES} bytes: not a range request"]
    assert found.partitions == [Partition(10, 19)]


def test_a_repeated_request_runs_once_and_a_reused_key_is_refused() -> None:
    found = events(
        '{"start": 0, "end": 9}\n'
        '{"partition_key": "again", "start": 0, "end": 9}\n'
        '{"partition_key": "k", "start": 10, "end": 19}\n'
        '{"partition_key": "k", "start": 20, "end": 29}\n'
        '{"partition_key": "k", "start": 10, "end": 19}\n'
    )
    assert found.partitions == [Partition(0, 9), Partition(10, 19, "k")]
    assert found.repeats == ["line 2: blocks 0..9 repeat line 1", "line 5: blocks 10..19 repeat line 3"]
    assert found.bad == ["line 4: partition_key 'k' is already line 3's, for blocks 10..19"]


def test_run_events_from_stdin_runs_the_good_lines_and_reports_the_bad(cli, tmp_path: Path) -> None:
    stdin = '{"start": 0, "end": 99}\n{"start": 100, "end": 50}\n{"start": 100, "end": 249}\n{"start": 0, "end": 99}\n'
    done = cli("run", str(DAG), "--job", JOB, "--events", "-", input=stdin)
    assert done.returncode == 1  # everything asked for was not run
    assert done.stdout.startswith("2/2 partitions published, 250 blocks, ")
    assert "cryo-ingest run: --events line 2: blocks 100..50 are not a range" in done.stderr
    assert "(skipped)" in done.stderr
    assert "cryo-ingest run: --events line 4: blocks 0..99 repeat line 1: run once" in done.stderr
    published = sorted(p.parts[-3] for p in (tmp_path / "cryo-data").glob("cryo/10143/*/*/*/_SUCCESS"))
    assert published == ["0_99", "0_99", "100_249", "100_249"]  # blocks and logs: one task per event, unsplit


def test_run_events_from_a_file_is_idempotent(cli, tmp_path: Path) -> None:
    requests = tmp_path / "requests.jsonl"
    requests.write_text('{"partition_key": "first", "start": 0, "end": 9}\n{"start": 10, "end": 19}\n')
    first = cli("run", str(DAG), "--job", JOB, "--events", str(requests), check=True)
    assert first.stdout.startswith("2/2 partitions published, 20 blocks, ")
    again = cli("run", str(DAG), "--job", JOB, "--events", str(requests), check=True)
    assert "4 dataset versions were already there" in again.stdout


def test_events_usage_errors(cli, tmp_path: Path) -> None:
    both = cli("run", str(DAG), "--job", JOB, "--events", "-", "--start-block", "0", "--end-block", "9")
    assert both.returncode == 2 and "give --events or --start-block and --end-block, not both" in both.stderr
    missing = cli("run", str(DAG), "--job", JOB, "--events", str(tmp_path / "nowhere.jsonl"))
    assert missing.returncode == 2 and "--events: cannot read" in missing.stderr


def test_manual_events_on_anvil_publish_what_the_node_holds(cli, anvil: Node, tmp_path: Path) -> None:
    head = int(rpc(anvil.url, "eth_blockNumber"), 16)
    third = head // 3
    stdin = "".join(
        json.dumps({"partition_key": f"r{i}", "start": start, "end": end}) + "\n"
        for i, (start, end) in enumerate([(0, third), (third + 1, 2 * third), (2 * third + 1, head)])
    )
    env = {"TRACE_RPC_POOL_MONAD_URL": anvil.url}
    done = cli("run", str(DAG), "--job", JOB, "--events", "-", "--extractor", "cryo", input=stdin, extra_env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"3/3 partitions published, {head + 1} blocks, ")
    options = {"store": str(tmp_path / "cryo-data"), "extractor": "cryo"}
    blocks = read.dataset(DAG, job=JOB, dataset="blocks", **options).to_table().to_pydict()
    assert blocks["block_number"] == list(range(head + 1))
    for number in (0, third, third + 1, head):
        assert (
            "0x" + blocks["block_hash"][number].hex()
            == rpc(anvil.url, "eth_getBlockByNumber", hex(number), False)["hash"]
        )
    logs = read.dataset(DAG, job=JOB, dataset="logs", **options).to_table()
    node_logs = rpc(anvil.url, "eth_getLogs", {"fromBlock": "0x0", "toBlock": hex(head)})
    assert logs.num_rows == len(node_logs)
