"""The child process that runs Cryo (`python -m cryo_ingest.extract.cryo.child_main`).

Reads `{"memory_limit": bytes, "runs": [{"datasets": [...], "kwargs": {...}}]}` on stdin, the RPC URL
from `$CRYO_INGEST_RPC_URL` (never argv, which any local user can read) and the pid of the parent
that started it from `$CRYO_INGEST_PARENT_PID`; runs one `cryo.freeze` per run and prints one JSON
line on stdout: the summed counts, and `errors`, each distinct error of the failed chunks as Cryo's
verbose summary gives it (its Python binding gives none). Exits 0 when every call returned, even
with failed chunks; nonzero with a traceback on stderr otherwise; at once, with `ORPHANED`, when its
parent is gone.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
import threading
import time
import traceback

URL_VARIABLE = "CRYO_INGEST_RPC_URL"
PARENT_VARIABLE = "CRYO_INGEST_PARENT_PID"
COUNTS = ("n_completed", "n_skipped", "n_errored")
#: Exit status of a child whose parent is gone (no one waits for it but a test).
ORPHANED = 3
#: Seconds between looks at the parent pid.
WATCH_SECONDS = 0.25
#: `PR_SET_PDEATHSIG` of <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1
#: The heading under which Cryo's verbose output lists each distinct error of the failed chunks (ten at most),
#: one "- <error> (<count>x)" item each, and the heading after that list.
_ERRORS_HEADING = "error summary"
_NEXT_HEADING = "collection summary"
#: How much of one error the result keeps.
ERROR_CHARS = 500


def die_with_parent() -> None:
    """End this process when the parent that started it ends, however the parent ends."""
    # In a session of its own (so that a terminal's Ctrl-C reaches only the parent), an orphan would
    # otherwise go on reading the node and writing files.
    parent = int(os.environ.pop(PARENT_VARIABLE))
    # The kernel sends the death signal when the *thread* that forked the child exits, not the
    # process. That thread waits for the child until it ends (`child.run_child`), so it outlives it.
    prctl = getattr(ctypes.CDLL(None), "prctl", None)  # Linux only; the watcher below covers the rest
    if prctl is not None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # A parent that died before the prctl took effect sends no signal: the child was reparented already.
    if os.getppid() != parent:
        os._exit(ORPHANED)
    threading.Thread(target=_watch, args=(parent,), name="watch-parent", daemon=True).start()


def _watch(parent: int) -> None:
    """Exit when the parent pid changes: where no death signal exists, or it was not delivered."""
    while os.getppid() == parent:
        time.sleep(WATCH_SECONDS)
    os._exit(ORPHANED)


def chunk_errors(printed: str) -> list[str]:
    """Each distinct error of the failed chunks, with its count ("... (2x)"), from what Cryo printed verbosely."""
    errors: list[str] = []
    listing = item = False
    for line in printed.splitlines():
        text = " ".join(line.split())
        if text in (_ERRORS_HEADING, _NEXT_HEADING):
            listing, item = text == _ERRORS_HEADING, False
        elif not listing or not text or set(text) == {"─"}:  # the heading's underline
            continue
        elif text.startswith("- ") or text == "...":  # "...": more than ten distinct errors
            errors.append(text.removeprefix("- "))
            item = True
        elif item:  # an error of several lines
            errors[-1] += " " + text
    return [_clip(error) for error in errors]


def _clip(error: str) -> str:
    """`error`, cut at a space before `ERROR_CHARS`: a URL is kept whole or left out, never cut in two."""
    if len(error) <= ERROR_CHARS:
        return error
    return error[:ERROR_CHARS].rpartition(" ")[0] + " [...]"


class _Printed:
    """What this process writes on fd 1 from now on (Cryo's verbose output), read through a pipe by a thread."""

    # A pipe rather than a file: on a full disk a file refuses the writes, and Rust's `println!` panics then.
    def __init__(self) -> None:
        read_end, write_end = os.pipe()
        os.dup2(write_end, 1)
        os.close(write_end)
        self._parts: list[bytes] = []
        # Cryo releases the GIL while it runs, so the pipe is drained as it fills.
        self._reader = threading.Thread(target=self._drain, args=(read_end,), name="cryo-stdout", daemon=True)
        self._reader.start()

    def _drain(self, read_end: int) -> None:
        while part := os.read(read_end, 65536):
            self._parts.append(part)
        os.close(read_end)

    def close(self) -> str:
        """Stop reading (fd 1 goes to stderr) and give what was printed."""
        os.dup2(2, 1)  # closes the pipe's last write end: the reader meets its end
        self._reader.join()
        return b"".join(self._parts).decode(errors="replace")


def main() -> None:
    """Run the request; write the result line to the original stdout."""
    die_with_parent()
    result_fd = os.dup(1)
    os.dup2(2, 1)  # whatever else is printed goes to stderr: stdout carries only the result line
    request = json.load(sys.stdin)
    limit = request["memory_limit"]
    # Set here rather than in preexec_fn, which can deadlock a parent that runs threads.
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    url = os.environ.pop(URL_VARIABLE)
    import cryo

    totals = dict.fromkeys(COUNTS, 0)
    printed = _Printed()
    for run in request["runs"]:
        counts = cryo.freeze(run["datasets"], rpc=url, **run["kwargs"])
        for key in COUNTS:
            totals[key] += counts[key]
        if totals["n_errored"]:
            break
    result = {**totals, "errors": chunk_errors(printed.close())}
    os.write(result_fd, (json.dumps(result) + "\n").encode())


if __name__ == "__main__":
    # os._exit skips interpreter finalization, where Cryo's leftover threads can abort the
    # process ("Fatal Python error: PyGILState_Release") after a successful extraction.
    try:
        main()
    except BaseException:  # noqa: BLE001 - whatever ends the child is reported on stderr
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)
