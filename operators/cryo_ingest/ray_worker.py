"""`run --executor ray` on a worker: what each Ray worker process prepares once, as `cryo-ingest task` would."""

from __future__ import annotations

import argparse
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trace_operators.contract import Operator, ResolvedJob
from trace_operators.runtime.taskpath import Worker, prepare


@dataclass(frozen=True)
class RayWorker:
    """The driver's choices a worker needs, none of them secret; endpoints and credentials are the node's own.

    A module of its own: it travels to workers by name, and `cli` may be `__main__`, which has none.
    """

    store: str
    extractor: str
    log_format: str

    def __call__(self, job: Mapping[str, Any]) -> tuple[Operator, ResolvedJob, Worker]:
        """The job checked and resolved from this node's environment, its store, staging and redacting logger."""
        from cryo_ingest import cli

        args = argparse.Namespace(store=self.store, extractor=self.extractor, log_format=self.log_format)
        env = cli._env(args)
        operator, resolved = prepare(cli._operators(), job, env)
        return operator, resolved, cli._worker(args, env, resolved, threading.Event())
