"""The child process that runs Cryo (`python -m cryo_ingest.extract.cryo.child_main`).

Reads `{"memory_limit": bytes, "runs": [{"datasets": [...], "kwargs": {...}}]}` on stdin, the RPC URL
from `$CRYO_INGEST_RPC_URL` (never argv, which any local user can read) and the pid of the parent
that started it from `$CRYO_INGEST_PARENT_PID`; runs one `cryo.freeze` per run and prints one JSON
line of summed counts on stdout. Exits 0 when every call returned, even with failed chunks; nonzero
with a traceback on stderr otherwise; at once, with `ORPHANED`, when its parent is gone.
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


def main() -> None:
    """Run the request; write the counts line to the original stdout."""
    die_with_parent()
    result_fd = os.dup(1)
    os.dup2(2, 1)  # whatever Cryo prints goes to stderr: stdout carries only the result line
    request = json.load(sys.stdin)
    limit = request["memory_limit"]
    # Set here rather than in preexec_fn, which can deadlock a parent that runs threads.
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    url = os.environ.pop(URL_VARIABLE)
    import cryo

    totals = dict.fromkeys(COUNTS, 0)
    for run in request["runs"]:
        counts = cryo.freeze(run["datasets"], rpc=url, **run["kwargs"])
        for key in COUNTS:
            totals[key] += counts[key]
        if totals["n_errored"]:
            break
    os.write(result_fd, (json.dumps(totals) + "\n").encode())


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
