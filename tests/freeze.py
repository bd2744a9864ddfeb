"""The baseline the Cryo tests compare against: `cryo.freeze` itself, with nothing of ours around it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

#: os._exit after the result: Cryo's leftover threads can abort the interpreter at finalization
#: ("Fatal Python error: PyGILState_Release", SIGABRT) after a successful extraction.
SCRIPT = (
    "import cryo, json, os, sys; print(json.dumps(cryo.freeze(**json.loads(sys.argv[1])))); "
    "sys.stdout.flush(); os._exit(0)"
)


def freeze_directly(url: str, datasets: list[str], out_dir: Path, **kwargs: Any) -> dict[str, int]:
    """`cryo.freeze` of `datasets` into `out_dir`, in a subprocess; its counts."""
    args = {"datatype": datasets, "rpc": url, "output_dir": str(out_dir), "verbose": False, "no_report": True, **kwargs}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, json.dumps(args)], capture_output=True, text=True, check=True, timeout=300
    )
    return json.loads(done.stdout)
