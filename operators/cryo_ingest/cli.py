"""`cryo-ingest`: validate DAGs in CI, print the schema, plan and run jobs locally, run one task."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryo_ingest.publish.layout import chain_prefix
from cryo_ingest.usage import USAGES, VersionAction
from trace_operators.contract import (
    FatalError,
    ObjectStore,
    Operator,
    Partition,
    Pieces,
    ResolvedJob,
    TaskError,
    TaskResult,
)
from trace_operators.plugins import Operators

if TYPE_CHECKING:
    from cryo_ingest.read import JobView
    from trace_operators.runtime.events import Events
    from trace_operators.runtime.executors import Executor
    from trace_operators.runtime.runner import RunSummary
    from trace_operators.runtime.taskpath import Worker

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_RETRYABLE = 0, 1, 2, 75
#: The shell's convention: a process stopped by signal N exits 128 + N (130 for Ctrl-C).
EXIT_SIGNALLED = 128
OPERATOR = "cryo_ingest"
DEFAULT_STORE = "./cryo-data"
STORE_VARIABLE = "TRACE_CRYO_STORE"


class UsageError(FatalError):
    """A command line that cannot run: exit 2 (and, for a task, a fatal outcome)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cryo-ingest",
        description=__doc__,
        epilog="`cryo-ingest COMMAND --help` shows what a command does, an example and its exit status.",
    )
    _version_option(parser)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, **USAGES[name].parser_texts())
        _version_option(sub)
        return sub

    validate = command("validate")
    from trace_operators.dag.reading import DEFAULT_MAX_FILE_SIZE, parse_size

    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    validate.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif"),
        default="text",
        help="text (default), json, github (workflow annotations) or sarif (code scanning)",
    )
    validate.add_argument("--strict", action="store_true", help="jobs of unknown operators are errors")
    validate.add_argument(
        "--max-file-size",
        type=parse_size,
        default=DEFAULT_MAX_FILE_SIZE,
        metavar="SIZE",
        help="larger files are a problem, never read (bytes, or 50MB, 64MiB; default: 50MB)",
    )
    validate.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes for many files, or for one big file cut between its job blocks (default: one per core)",
    )

    command("schema")

    def job_command(name: str) -> argparse.ArgumentParser:
        sub = command(name)
        _job_options(sub)
        sub.add_argument("--start-block", type=int, metavar="N", help="first block (default: the job's start_block)")
        sub.add_argument(
            "--end-block", type=int, metavar="M", help="last block, inclusive (default: the job's end_block)"
        )
        return sub

    plan = job_command("plan")
    _format_option(plan)
    run = job_command("run")
    _executor_options(run)
    run.add_argument(
        "--events",
        metavar="FILE",
        help='range requests as JSON lines, {"partition_key", "start", "end"} (inclusive), one task each; - for stdin',
    )
    files = job_command("files")
    files.add_argument("--dataset", required=True, metavar="NAME", help="one of the job's datasets")
    _format_option(files)
    status = job_command("status")
    _format_option(status)
    status.add_argument("--rows", action="store_true", help="also count rows (reads each committed _SUCCESS)")
    verify = job_command("verify")
    _format_option(verify)
    verify.add_argument(
        "--repair", action="store_true", help="republish each damaged partition to the same version, then check again"
    )
    task = command("task")
    task.add_argument("task", metavar="TASK.json", help="a file, or - for standard input")
    follow = command("follow")
    _job_options(follow)
    _executor_options(follow)
    follow.add_argument(
        "--poll-seconds",
        type=_poll_seconds,
        default=2.0,
        metavar="S",
        help="seconds between looks at the head, for a block_follower (default 2)",
    )
    for sub in (plan, run, files, status, verify, task, follow):
        sub.add_argument(
            "--store",
            metavar="URL",
            help=f"local path, file:// or s3://bucket[/prefix] (default: ${STORE_VARIABLE}, else {DEFAULT_STORE})",
        )
        sub.add_argument("--extractor", choices=("stub", "cryo"), help="default: $TRACE_CRYO_MODE, else stub")
    for sub in (run, verify, task, follow):
        sub.add_argument(
            "--log-format",
            choices=("text", "json"),
            default="text",
            help="log lines on stderr: text (default), or JSON lines for a log pipeline",
        )
    return parser


def _version_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", action=VersionAction)


def _job_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("dag", type=Path, metavar="DAG", help="the DAG file that holds the job")
    sub.add_argument("--job", required=True, metavar="NAME", help="the name of a cryo_ingest job in the DAG")


def _format_option(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--format", choices=("text", "json"), default="text", help="text for people (default), json for machines"
    )


def _poll_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 3600:  # also refuses nan
        raise argparse.ArgumentTypeError(f"a number of seconds above 0 and at most 3600, not {text}")
    return seconds


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if args.extractor:
        env["TRACE_CRYO_MODE"] = args.extractor
    return env


def _operators() -> Operators:
    """Every operator, ours registered through the same door as installed plugins; failures reported."""
    from cryo_ingest.plugin import operators as all_operators

    operators = all_operators()
    for failure in operators.failures:
        print(f"warning: plugin {failure.plugin} not loaded: {failure.error}", file=sys.stderr)
    return operators


def _store(args: argparse.Namespace, env: Mapping[str, str]) -> ObjectStore:
    from trace_operators.stores import open_store

    try:
        return open_store(args.store or env.get(STORE_VARIABLE) or DEFAULT_STORE, env)
    except ValueError as error:
        raise UsageError(f"--store: {error}") from None


def cmd_validate(args: argparse.Namespace) -> int:
    from trace_operators.dag.report import render
    from trace_operators.dag.validation import Settings, validate_paths

    settings = Settings(args.strict, args.max_file_size)
    report = validate_paths(args.paths, _operators(), settings, workers=args.jobs)
    output = render(report, args.format)
    if output:
        print(output)
    return EXIT_PROBLEMS if report.errors else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from cryo_ingest.job.validation import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def _job(args: argparse.Namespace, env: Mapping[str, str]) -> tuple[Operator, ResolvedJob, dict[str, Any]]:
    """The named job of a DAG file that validates (checked once, here), its operator, and the job resolved."""
    job = _job_block(args)
    operator = _operators().get(OPERATOR)
    assert operator is not None  # ours is built in
    return operator, operator.resolve_job(job, env), job


def _job_block(args: argparse.Namespace) -> dict[str, Any]:
    from cryo_ingest.job.load import JobError, load_job

    try:
        return load_job(args.dag, args.job, _operators())
    except JobError as error:
        raise UsageError(str(error)) from None


def _range(args: argparse.Namespace, fixed: Partition | None) -> Partition:
    """The range of the flags, else the job's own; a usage error when there is neither."""
    given = _given_range(args)
    if given is not None:
        return given
    if fixed is None:
        raise UsageError("the job has no start_block/end_block: pass --start-block and --end-block")
    return fixed


def _given_range(args: argparse.Namespace) -> Partition | None:
    if (args.start_block is None) != (args.end_block is None):
        raise UsageError("give both --start-block and --end-block, or neither")
    if args.start_block is None:
        return None
    try:
        return Partition(args.start_block, args.end_block)
    except FatalError as error:
        raise UsageError(f"--start-block {args.start_block} --end-block {args.end_block}: {error}") from None


def cmd_plan(args: argparse.Namespace) -> int:
    from cryo_ingest.publish.layout import targets

    env = _env(args)
    operator, resolved, _ = _job(args, env)
    store = _store(args, env)
    rows = [
        {
            "partition_key": p.partition_key,
            "start": p.start,
            "end": p.end,
            "dataset": t.dataset,
            "dataset_version": t.dataset_version,
            "config_hash": t.config_hash,
            "prefix": t.prefix,
        }
        for p in operator.plan(resolved, _range(args, resolved.range))
        for t in targets(resolved.spec, p, store, {})
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['partition_key']:>23}  {row['dataset']:<14} {row['prefix']}")
    return EXIT_OK


def _worker(args: argparse.Namespace, env: Mapping[str, str], resolved: ResolvedJob, cancel: threading.Event) -> Worker:
    """The store, the staging root with stale task directories swept, and a logger redacting the job's secrets."""
    from cryo_ingest.publish.staging import check_outside_store, staging_root, staging_ttl_hours, sweep_stale
    from trace_operators.runtime import logs
    from trace_operators.runtime.taskpath import Worker

    logger = logs.configure(OPERATOR, args.log_format, secrets=resolved.secrets)
    root = staging_root(env)
    store = _store(args, env)
    try:
        check_outside_store(root, store)
        removed = sweep_stale(root, staging_ttl_hours(env))
    except ValueError as error:
        raise UsageError(str(error)) from None
    if removed:
        logger.info("removed %d stale staging directories under %s", len(removed), root)
    return Worker(store, root, logger, cancel)


def cmd_run(args: argparse.Namespace) -> int:
    env = _env(args)
    operator, resolved, job = _job(args, env)
    events = _events(args) if args.events else None
    partitions = events.partitions if events else operator.plan(resolved, _range(args, resolved.range))
    worker = _worker(args, env, resolved, threading.Event())
    with _executor(args, env, operator, resolved, worker) as execute:
        summary = _run_partitions(operator, resolved, job, worker, partitions, execute)
    _report(summary, worker, resolved)
    return EXIT_OK if not summary.failed and not (events and events.bad) else EXIT_PROBLEMS


def _executor_options(sub: argparse.ArgumentParser) -> None:
    """`--executor` and `--ray-address`, for each command that runs partitions."""
    sub.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="where partitions run: here (default; threads, or worker processes for the stub on a local store), "
        "or a Ray cluster (pip install 'cryo-ingest[ray]')",
    )
    sub.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the Ray cluster for --executor ray (default: $RAY_ADDRESS, else one started on loopback for the run)",
    )


@contextmanager
def _executor(
    args: argparse.Namespace, env: Mapping[str, str], operator: Operator, resolved: ResolvedJob, worker: Worker
) -> Iterator[Executor]:
    """Where each attempt runs: here (threads, or forked workers for the stub), or on Ray (shipping no secret)."""
    from cryo_ingest.extract.registry import extractor_name
    from trace_operators.runtime.taskpath import run_task

    if args.executor == "local":
        if args.ray_address:
            raise UsageError("--ray-address needs --executor ray")
        # The stub computes in this process, where threads share one GIL: forked workers do not. Only with a
        # local store: forked workers would share the pooled connections of an S3 client.
        if resolved.max_concurrency > 1 and extractor_name(env) == "stub" and worker.store.scheme == "file":
            from cryo_ingest.extract.stub.writer import preload
            from trace_operators.runtime.executors.processes import in_processes

            preload()
            with in_processes(operator, resolved, worker, resolved.max_concurrency) as execute:
                yield execute
            return
        yield run_task
        return
    from cryo_ingest.ray_worker import RayWorker
    from trace_operators.runtime.executors.ray_cluster import RayMissing, on_ray

    setup = RayWorker(worker.store.ref(worker.store.key("")).url, extractor_name(env), args.log_format)
    address = args.ray_address or env.get("RAY_ADDRESS") or None
    with ExitStack() as stack:
        try:
            execute = stack.enter_context(on_ray(address, operator, resolved, setup, worker.logger))
        except RayMissing:
            raise UsageError("--executor ray needs Ray: pip install 'cryo-ingest[ray]'") from None
        yield execute


def _events(args: argparse.Namespace) -> Events:
    """The range requests of `--events`, one partition each; bad lines are reported on stderr and skipped."""
    from trace_operators.runtime.events import read_events

    if _given_range(args) is not None:
        raise UsageError("give --events or --start-block and --end-block, not both")
    try:
        if args.events == "-":
            events = read_events(sys.stdin.buffer)
        else:
            with open(args.events, "rb") as file:
                events = read_events(file)
    except OSError as error:
        raise UsageError(f"--events: cannot read {args.events}: {error.strerror}") from None
    for note in events.bad:
        print(f"cryo-ingest run: --events {note} (skipped)", file=sys.stderr)
    for note in events.repeats:
        print(f"cryo-ingest run: --events {note}: run once", file=sys.stderr)
    return events


def _report(summary: RunSummary, worker: Worker, resolved: ResolvedJob) -> None:
    print(summary.text())
    if summary.published:
        print(f"published under {worker.store.ref(worker.store.key(chain_prefix(resolved.spec.chain_id))).url}")


def cmd_follow(args: argparse.Namespace) -> int:
    from cryo_ingest.follow.follower import Follower, follow_trigger
    from trace_operators.runtime.signals import cancel_on_signals

    env = _env(args)
    operator, resolved, job = _job(args, env)
    worker = _worker(args, env, resolved, threading.Event())
    with _executor(args, env, operator, resolved, worker) as execute:
        try:
            trigger = follow_trigger(args.dag, job)
            follower = Follower(operator, resolved, job, worker, trigger, args.poll_seconds, execute=execute)
        except FatalError as error:
            raise UsageError(str(error)) from None
        try:
            with cancel_on_signals(worker.cancel) as received:
                tip = follower.run()
        finally:  # a deep reorg or a fatal partition stops it too: the summary says what was done before
            _report(follower.summary(), worker, resolved)
    stop = "stopped cleanly" if received else "done"
    print(f"cryo-ingest follow: {stop}; {tip.text()}", file=sys.stderr)
    return EXIT_OK


def _run_partitions(
    operator: Operator,
    resolved: ResolvedJob,
    job: dict[str, Any],
    worker: Worker,
    partitions: Sequence[Partition],
    execute: Executor | None = None,
) -> RunSummary:
    """Run `partitions` with a progress display; on SIGINT or SIGTERM, stop them and exit 128 + the signal."""
    from dataclasses import replace

    from trace_operators.runtime.progress import Progress
    from trace_operators.runtime.runner import Runner
    from trace_operators.runtime.signals import cancel_on_signals
    from trace_operators.runtime.taskpath import run_task

    # A plan's blocks are known without making each of its partitions (a million take seconds).
    blocks = partitions.blocks if isinstance(partitions, Pieces) else sum(p.blocks for p in partitions)
    progress = Progress(len(partitions), blocks, sys.stderr)
    runner = Runner(
        operator,
        resolved,
        job,
        replace(worker, on_chunk=progress.chunk),
        on_done=progress.update,
        on_retry=progress.retrying,
        execute=execute or run_task,
    )
    try:
        with cancel_on_signals(worker.cancel) as received:
            summary = runner.run(partitions)
    finally:
        progress.close()  # the line ends before anything else is printed
    if received:
        print(
            "cryo-ingest: interrupted; the partitions in flight stopped, and no prefix of theirs "
            "has a _SUCCESS marker",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_SIGNALLED + received[0])
    return summary


def _view(args: argparse.Namespace) -> JobView:
    from cryo_ingest.extract.registry import extractor_name
    from cryo_ingest.read import JobView

    env = _env(args)
    return JobView(_job_block(args), _store(args, env), extractor_name(env), _given_range(args))


def cmd_files(args: argparse.Namespace) -> int:
    view = _view(args)
    try:
        dataset = view.dataset_name(args.dataset)
    except FatalError as error:
        raise UsageError(f"--dataset: {error}") from None
    urls = view.urls(dataset)
    sys.stdout.write(json.dumps(urls) + "\n" if args.format == "json" else "".join(url + "\n" for url in urls))
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    view = _view(args)
    if view.within is None:
        raise UsageError("the job has no start_block/end_block: pass --start-block and --end-block")
    found = [view.coverage(dataset, args.rows) for dataset in view.spec.datasets]
    if args.format == "json":
        print(json.dumps([c.to_json() for c in found], indent=2))
    else:
        print("\n".join(c.text() for c in found))
    return EXIT_OK if all(c.complete for c in found) else EXIT_PROBLEMS


def cmd_verify(args: argparse.Namespace) -> int:
    from cryo_ingest.verify import uncommit, verify

    env = _env(args)
    operator, resolved, job = _job(args, env)
    partitions = operator.plan(resolved, _range(args, resolved.range))
    store = _store(args, env)
    report = verify(resolved.spec, partitions, store)
    repaired = None
    if args.repair and report.damaged:
        worker = _worker(args, env, resolved, threading.Event())
        todo = uncommit(store, report.damaged)
        repaired = (_run_partitions(operator, resolved, job, worker, todo), verify(resolved.spec, todo, store))
    if args.format == "json":
        out = report.to_json()
        if repaired is not None:
            out["after_repair"] = repaired[1].to_json()
        print(json.dumps(out, indent=2))
    else:
        for damage in report.damaged:
            print(damage.text())
        print(report.text())
        if repaired is not None:
            print(f"repair: {repaired[0].text()}")
            for damage in repaired[1].damaged:
                print(f"still {damage.text()}")
            print(f"after repair: {repaired[1].text()}")
    still = report.damaged if repaired is None else repaired[1].damaged
    return EXIT_PROBLEMS if still or (repaired is not None and repaired[0].failed) else EXIT_OK


def _read_task(source: str) -> bytes:
    """The task's bytes, up to one past the largest task allowed: a larger one is refused without reading it whole."""
    from trace_operators.runtime.tasks import MAX_TASK_BYTES

    try:
        if source == "-":
            return sys.stdin.buffer.read(MAX_TASK_BYTES + 1)
        with open(source, "rb") as file:
            return file.read(MAX_TASK_BYTES + 1)
    except OSError as error:
        raise FatalError(f"cannot read the task file {source}: {error.strerror}") from None


def cmd_task(args: argparse.Namespace) -> int:
    from trace_operators.runtime.signals import cancel_on_signals

    cancel = threading.Event()
    with cancel_on_signals(cancel):
        result = _task_result(args, _env(args), cancel)
    print(json.dumps(result.to_json()))
    return {"success": EXIT_OK, "retryable_error": EXIT_RETRYABLE}.get(result.outcome, EXIT_PROBLEMS)


def _task_result(args: argparse.Namespace, env: Mapping[str, str], cancel: threading.Event) -> TaskResult:
    from trace_operators.runtime.taskpath import failure, prepare, run_task
    from trace_operators.runtime.tasks import parse_task

    task = None
    try:
        task = parse_task(_read_task(args.task))
        operator, resolved = prepare(_operators(), task.job, env)
        worker = _worker(args, env, resolved, cancel)
    except TaskError as error:
        return failure(task.task_id if task else "", task.attempt if task else 0, error)
    return run_task(operator, resolved, task, worker)


COMMANDS = {
    "validate": cmd_validate,
    "schema": cmd_schema,
    "plan": cmd_plan,
    "run": cmd_run,
    "files": cmd_files,
    "status": cmd_status,
    "verify": cmd_verify,
    "task": cmd_task,
    "follow": cmd_follow,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except FatalError as error:
        print(f"cryo-ingest {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, UsageError) else EXIT_PROBLEMS
    except BrokenPipeError:  # the reader went away (`cryo-ingest files … | head`): what is left has nowhere to go
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_SIGNALLED + signal.SIGPIPE
    except KeyboardInterrupt:  # a second Ctrl-C: the way out when the work does not reach a checkpoint
        print(f"\ncryo-ingest {args.command}: interrupted again", file=sys.stderr)
        return EXIT_SIGNALLED + signal.SIGINT
