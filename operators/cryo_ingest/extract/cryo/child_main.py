"""The child process that runs Cryo (`python -m cryo_ingest.extract.cryo.child_main`).

Reads `{"memory_limit": bytes, "runs": [{"datasets": [...], "kwargs": {...}}]}` on stdin and the
RPC URL from `$CRYO_INGEST_RPC_URL` (never argv, which any local user can read), runs one
`cryo.freeze` per run, and prints one JSON line of summed counts on stdout. Exits 0 when every call
returned, even with failed chunks; nonzero with a traceback on stderr otherwise.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback

URL_VARIABLE = "CRYO_INGEST_RPC_URL"
COUNTS = ("n_completed", "n_skipped", "n_errored")


def main() -> None:
    """Run the request; write the counts line to the original stdout."""
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
