"""The progress line of `run` on a real pseudo-terminal: chunks in flight, only published blocks done, clean lines."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from trace_operators.contract import Publication, StorageRef, TaskMetrics, TaskResult
from trace_operators.runtime.progress import Progress

from tests.anvil import Node

COLUMNS = 200
BAR = "%|"
ERASE = "\x1b[K"


def dag(tmp_path: Path, end: int, **config: object) -> Path:
    """A DAG of one job, `p7`: blocks only, partitions of 1,000 blocks in chunks of 100, one attempt each."""
    job = {
        "name": "p7",
        "operator": "cryo_ingest",
        "max_attempts": 1,
        "scaling": {"max_concurrency": 2},
        "config": {
            "chain_id": 10143,
            "datasets": ["blocks"],
            "rpc_pool": "monad",
            "start_block": 0,
            "end_block": end,
            "partition_size": 1000,
            "chunk_size": 100,
            **config,
        },
    }
    path = tmp_path / "dag.yaml"
    path.write_text(json.dumps({"name": "p7", "jobs": [job]}))
    return path


class Terminal:
    """`cryo-ingest ARGS...` in a child whose stderr is a pseudo-terminal of COLUMNS columns, read as it is written."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, COLUMNS, 0, 0))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cryo_ingest", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
            start_new_session=True,
        )
        os.close(slave)
        self._master, self._chunks = master, bytearray()
        self._reader = threading.Thread(target=self._read)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self._master, 65536)
            except OSError:  # EIO: the child closed the terminal's last writer
                break
            if not data:
                break
            self._chunks += data
        os.close(self._master)

    def finish(self) -> tuple[int, str, str]:
        """Exit status, stdout, and everything written to the terminal as the bytes came (`\\r\\n` for a newline)."""
        out, _ = self.process.communicate(timeout=300)
        self._reader.join(timeout=60)
        return self.process.returncode, out, self._chunks.decode()


def screen(raw: str) -> list[str]:
    """The lines a terminal shows for `raw`: a carriage return goes back to the start of the line, overwriting it.

    `ESC [ K` erases from the cursor to the end of the line.
    """
    lines, row, column = [""], 0, 0
    for char in raw.replace(ERASE, "\0"):
        if char == "\0":
            lines[row] = lines[row][:column]
        elif char == "\r":
            column = 0
        elif char == "\n":
            row += 1
            lines.append("")
        else:
            line = lines[row].ljust(column)
            lines[row] = line[:column] + char + line[column + 1 :]
            column += 1
    return [line.rstrip() for line in lines]


def chunks_published(line: str) -> int:
    """The chunks a final line counts as published, none in flight.

    Forked workers report chunks through a queue that may still hold a partition's last one as it ends: it is
    dropped, so a count can fall short, never over.
    """
    found = re.search(r", (\d+) chunks \+ 0 in flight, ", line)
    assert found, line
    return int(found[1])


def blocked(store: Path, prefix: str) -> None:
    """A file where the prefix's folder must go: every put under it fails, a real store fault that retries meet."""
    path = store / prefix.rstrip("/")
    path.parent.mkdir(parents=True)
    path.write_text("in the way")


def prefix_of(cli, path: Path, key: str) -> str:
    planned = json.loads(cli("plan", str(path), "--job", "p7", "--format", "json", check=True).stdout)
    return next(row["prefix"] for row in planned if row["partition_key"] == key)


def test_the_line_shows_chunks_in_flight_before_the_first_partition_ends(env, tmp_path: Path) -> None:
    path = dag(tmp_path, 1999)
    code, out, raw = Terminal(env, tmp_path, "run", str(path), "--job", "p7").finish()
    assert code == 0, raw
    assert out.startswith("2/2 partitions published, 2,000 blocks, ")
    first_end = raw.index("INFO published p7-")
    drawn = [part for part in re.split("[\r\n]", raw[:first_end]) if BAR in part]
    assert any(
        re.search(r"\| 0/2 partitions, 0/2,000 blocks published, 0 chunks \+ [1-9]\d* in flight, ", d) for d in drawn
    )
    lines = screen(raw)
    logged = sorted(re.sub(r"[\d.]+ MB in [\d.]+ s", "… MB in … s", line) for line in lines if "INFO" in line)
    assert logged == [  # each whole, on a line of its own
        "INFO published p7-0-999: 1,000 blocks, 1,000 rows, … MB in … s",
        "INFO published p7-1000-1999: 1,000 blocks, 1,000 rows, … MB in … s",
    ]
    assert lines[-2].startswith("100%|████████████████████| 2/2 partitions, 2,000/2,000 blocks published, ")
    assert 0 < chunks_published(lines[-2]) <= 20 and lines[-2].endswith("ETA 00:00")
    assert lines[-1] == ""  # the line was ended


def test_a_failed_partition_counts_for_nothing_and_its_warning_has_a_line_of_its_own(cli, env, tmp_path: Path) -> None:
    path = dag(tmp_path, 1999)
    blocked(tmp_path / "cryo-data", prefix_of(cli, path, "1000-1999"))
    code, out, raw = Terminal(env, tmp_path, "run", str(path), "--job", "p7").finish()
    assert code == 1, raw
    assert out.startswith("1/2 partitions published, 1,000 blocks, ")
    lines = screen(raw)
    final = lines[-2]
    assert final.startswith(" 50%|██████████          | 2/2 partitions (1 failed), 1,000/2,000 blocks published, ")
    assert 0 < chunks_published(final) <= 10 and final.endswith("ETA 00:00"), final  # none of the failed one's
    said = [line for line in lines if "p7-1000-1999" in line]
    assert said, raw
    for line in said:  # each record whole, on a line of its own: no bar before or after it
        assert BAR not in line
        assert re.fullmatch(r"(WARNING task|ERROR failed) p7-1000-1999 .*failed: File exists", line), line


def test_ctrl_c_ends_the_line_before_saying_what_stopped(env, tmp_path: Path) -> None:
    path = dag(tmp_path, 999_999, partition_size=5000, chunk_size=100)
    running = Terminal(env, tmp_path, "run", str(path), "--job", "p7")
    store = tmp_path / "cryo-data"
    deadline = time.monotonic() + 120
    while not (store.exists() and any(store.rglob("_SUCCESS"))):
        assert time.monotonic() < deadline and running.process.poll() is None
        time.sleep(0.05)
    os.killpg(running.process.pid, signal.SIGINT)  # as a terminal's Ctrl-C does, to the whole group
    code, _, raw = running.finish()
    assert code == 128 + signal.SIGINT, raw
    lines = screen(raw)
    stopped = next(i for i, line in enumerate(lines) if "interrupted" in line)
    assert lines[stopped].startswith("cryo-ingest: interrupted; the partitions in flight stopped, and no prefix")
    assert BAR in lines[stopped - 1] and "in flight" in lines[stopped - 1]  # the last state, then a new line
    cancelled = [line for line in lines if "cancelled" in line]
    assert cancelled and all(re.fullmatch(r"WARNING (task |cancelled )p7-\d+-\d+:? .*", c) for c in cancelled)
    assert not [line for line in lines if "retrying" in line]  # a cancelled task is not retried
    assert "Traceback" not in raw


def test_nothing_is_drawn_when_stderr_is_not_a_terminal(cli, tmp_path: Path) -> None:
    done = cli("run", str(dag(tmp_path, 1999)), "--job", "p7", check=True)
    assert BAR not in done.stderr and "\r" not in done.stderr
    assert sorted(line.split(":")[0] for line in done.stderr.splitlines()) == [
        "INFO published p7-0-999",
        "INFO published p7-1000-1999",
    ]


def test_cryo_chunks_show_in_flight_before_the_first_partition_ends(env, anvil: Node, tmp_path: Path) -> None:
    path = dag(tmp_path, 79, partition_size=40, chunk_size=5)
    env = {**env, "TRACE_RPC_POOL_MONAD_URL": anvil.url}
    code, out, raw = Terminal(env, tmp_path, "run", str(path), "--job", "p7", "--extractor", "cryo").finish()
    assert code == 0, raw
    assert out.startswith("2/2 partitions published, 80 blocks, ")
    drawn = [part for part in re.split("[\r\n]", raw[: raw.index("INFO published p7-")]) if BAR in part]
    assert any(re.search(r"\| 0/2 partitions, 0/80 blocks published, 0 chunks \+ [1-8] in flight, ", d) for d in drawn)
    assert "2/2 partitions, 80/80 blocks published, 16 chunks + 0 in flight" in screen(raw)[-2]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def published(task_id: str, blocks: int) -> TaskResult:
    ref = StorageRef("file", "/s", "p/")
    publication = Publication(0, "blocks", "u", "v", ref, "h", 0, blocks - 1, blocks, 10)
    return TaskResult(task_id, 1, "success", [publication], metrics=TaskMetrics(blocks=blocks, rows=blocks))


def test_only_published_blocks_count_and_a_retry_returns_its_chunks() -> None:
    progress = Progress(3, 300, FakeTerminal())
    for task in ("a", "b", "c"):
        progress.chunk(task, 50)
    assert progress.line().startswith("0/3 partitions, 0/300 blocks published, 0 chunks + 3 in flight, ")
    progress.retrying(TaskResult("b", 1, "retryable_error", error_message="503"))
    assert "0 chunks + 2 in flight" in progress.line()
    progress.chunk("a", 50)
    progress.update(published("a", 100))
    progress.update(TaskResult("c", 1, "fatal_error", error_message="no"))
    assert progress.line().startswith("2/3 partitions (1 failed), 100/300 blocks published, 2 chunks + 0 in flight, ")


def test_a_pipe_gets_nothing() -> None:
    pipe = io.StringIO()
    progress = Progress(1, 100, pipe)
    progress.chunk("a", 100)
    progress.update(published("a", 100))
    progress.close()
    assert pipe.getvalue() == ""


def test_an_empty_run_draws_and_ends_its_line() -> None:
    terminal = FakeTerminal()
    progress = Progress(0, 0, terminal)
    progress.close()
    assert terminal.getvalue().endswith("\n") and "0/0 partitions" in terminal.getvalue()
