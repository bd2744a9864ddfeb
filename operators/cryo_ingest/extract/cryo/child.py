"""The child process that runs Cryo: started, fed, watched, killed, and its end turned into a result.

One extraction per child gives a memory limit, a clean kill on cancellation or at the deadline,
and keeps Cryo's aborts at interpreter exit out of the worker. The child dies with the parent
however the parent dies (see `child_main`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from cryo_ingest.extract.cryo.child_main import PARENT_VARIABLE, URL_VARIABLE
from cryo_ingest.extract.cryo.options import CryoRun
from cryo_ingest.job.endpoints import Endpoint
from trace_operators.contract import RetryableError, TaskContext

#: Seconds between heartbeats while the child runs.
POLL_SECONDS = 0.5
#: How much of the child's stderr a message keeps.
STDERR_LINES = 5
STDERR_CHARS = 1000

_NO_CAUSE = (
    " (Cryo's Python binding gives no cause: the node failed a call, or a column of "
    "include_columns or exclude_columns is in none of the datasets)"
)


@dataclass(frozen=True)
class FreezeSummary:
    """Cryo's chunk counts, summed over the child's calls (a chunk group of several datasets counts once)."""

    completed: int
    skipped: int
    errored: int


@dataclass(frozen=True)
class ChildResult:
    """How a child that ran every call to its end fared."""

    summary: FreezeSummary
    #: What the child wrote on stderr (Cryo's panics), summarised; raw, as the task path redacts.
    said: str
    #: Each distinct error of the failed chunks with its count, as Cryo put it (the node's own words); raw too.
    errors: tuple[str, ...]


def run_child(
    runs: list[CryoRun],
    endpoint: Endpoint,
    out_dir: Path,
    ctx: TaskContext,
    memory_limit: int,
    on_poll: Callable[[], None],
) -> ChildResult:
    """Run Cryo in a child; its summary, or `RetryableError` saying how it ended, or `Cancelled`.

    `on_poll` is called after each wait on the child, the last one too.
    """
    request = json.dumps({"memory_limit": memory_limit, "runs": [asdict(run) for run in runs]}).encode()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TRACE_", "AWS_"))}
    env.update(
        {
            URL_VARIABLE: endpoint.url,  # in the environment, never argv, which any local user can read
            PARENT_VARIABLE: str(os.getpid()),
            "RUST_BACKTRACE": "0",
            # Few malloc arenas: each reserves 64 MiB of address space, which RLIMIT_AS counts.
            "MALLOC_ARENA_MAX": "2",
        }
    )
    # Pipes, not files: on a full disk (staging is often on /tmp) a file would lose the child's result.
    # A session of its own: a terminal's Ctrl-C reaches only the parent, which kills the child itself.
    with subprocess.Popen(
        [sys.executable, "-m", "cryo_ingest.extract.cryo.child_main"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=out_dir,
        env=env,
        start_new_session=True,
    ) as child:
        try:
            stdout, stderr = _communicate(child, request, ctx, on_poll)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
    return child_result(
        child.returncode, stdout.decode(errors="replace"), stderr.decode(errors="replace"), endpoint.pool
    )


def _communicate(
    child: subprocess.Popen[bytes], request: bytes, ctx: TaskContext, on_poll: Callable[[], None]
) -> tuple[bytes, bytes]:
    """Send the request, then heartbeat until the child exits; `Cancelled` (the caller kills it) on cancellation."""
    unsent: bytes | None = request
    while True:
        ctx.checkpoint("while Cryo ran")
        try:
            # Called again after a timeout, communicate goes on sending the input and loses no output.
            done = child.communicate(unsent, ctx.seconds_left(POLL_SECONDS))
        except subprocess.TimeoutExpired:
            unsent = None  # handed over already: it may not be given twice
            on_poll()
        else:
            on_poll()
            return done


def child_result(returncode: int, stdout: str, stderr: str, pool: str) -> ChildResult:
    """The child's result line, or `RetryableError` saying how the child reading `pool` ended."""
    said = summarise(stderr)
    if returncode == 0:
        try:
            line = json.loads(stdout.strip().splitlines()[-1])
            summary = FreezeSummary(int(line["n_completed"]), int(line["n_skipped"]), int(line["n_errored"]))
            return ChildResult(summary, said, tuple(str(error) for error in line["errors"]))
        except (IndexError, KeyError, TypeError, ValueError):
            pass
    how = f"was killed by {_signal_name(-returncode)}" if returncode < 0 else f"exited with {returncode}"
    if said.endswith("TypeError: failed"):
        said += _NO_CAUSE
    raise RetryableError(f"Cryo, reading pool {pool}, {how}: {said or 'no output'}")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def summarise(stderr: str) -> str:
    """The last lines of stderr that say something: panics and the exception, not traceback frames."""
    lines = [
        line.strip()
        for line in stderr.splitlines()
        if line.strip() and not line[:1].isspace() and not line.startswith(("Traceback ", "note: run with"))
    ]
    return "; ".join(lines[-STDERR_LINES:])[-STDERR_CHARS:]
