"""`cryo-ingest`: validate DAGs in CI, print the schema, plan and run jobs locally, run one task."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from trace_operators.contract import FatalError, Partition, ResolvedJob, TaskError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_RETRYABLE, EXIT_INTERRUPTED = 0, 1, 2, 75, 130
DEFAULT_STORE = "./cryo-data"
STORE_VARIABLE = "TRACE_CRYO_STORE"


class UsageError(Exception):
    """A command line that cannot run; exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cryo-ingest", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="validate DAG files and folders (*.yaml, *.yml)")
    validate.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    validate.add_argument("--format", choices=("text", "json"), default="text")
    validate.add_argument("--strict", action="store_true", help="jobs of unknown operators are errors")
    validate.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="worker processes for many files (default: one per core)",
    )

    commands.add_parser("schema", help="print the job block's JSON Schema")

    def job_command(name: str, help_: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_)
        sub.add_argument("dag", type=Path, metavar="DAG")
        sub.add_argument("--job", required=True, metavar="NAME")
        sub.add_argument("--start-block", type=int, metavar="N")
        sub.add_argument("--end-block", type=int, metavar="M", help="inclusive")
        return sub

    plan = job_command("plan", "list partitions with their prefixes and versions; touches nothing")
    plan.add_argument("--format", choices=("text", "json"), default="text")
    run = job_command("run", "run every partition locally and print a summary")
    task = commands.add_parser("task", help="the container entry: one task JSON in, a TaskResult JSON out")
    task.add_argument("task", metavar="TASK.json", help="a file, or - for standard input")
    for sub in (plan, run, task):
        sub.add_argument(
            "--store",
            metavar="URL",
            help=f"local path, file:// or s3://bucket[/prefix] " f"(default: ${STORE_VARIABLE}, else {DEFAULT_STORE})",
        )
        sub.add_argument("--extractor", choices=("stub", "cryo"), help="default: $TRACE_CRYO_MODE, else stub")
    for sub in (run, task):
        sub.add_argument("--log-format", choices=("text", "json"), default="text")
    return parser


def _env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    if args.extractor:
        env["TRACE_CRYO_MODE"] = args.extractor
    return env


def _store(args: argparse.Namespace, env: Mapping[str, str]) -> Any:
    from trace_operators.stores import open_store

    try:
        return open_store(args.store or env.get(STORE_VARIABLE) or DEFAULT_STORE, env)
    except ValueError as error:
        raise UsageError(f"--store: {error}") from None


def cmd_validate(args: argparse.Namespace) -> int:
    from trace_operators.dag.validation import render, validate_paths
    from trace_operators.plugins import load_operators

    operators = load_operators()
    for failure in operators.failures:
        print(f"warning: plugin {failure.plugin} not loaded: {failure.error}", file=sys.stderr)
    findings = validate_paths(args.paths, operators, args.strict, workers=args.jobs)
    output = render(findings, args.format)
    if output:
        print(output)
    return EXIT_PROBLEMS if any(f.severity == "error" for f in findings) else EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from cryo_ingest.job.validation import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def _load_job(args: argparse.Namespace) -> dict[str, Any]:
    """The named job of a DAG file that validates, with the DAG's defaults applied."""
    from trace_operators.dag.checks import find_job
    from trace_operators.dag.validation import check_file
    from trace_operators.plugins import load_operators

    doc, findings = check_file(args.dag, load_operators())
    errors = [f for f in findings if f.severity == "error"]
    if doc is None or errors:
        raise UsageError("the DAG does not validate:\n" + "\n".join(f.text() for f in errors))
    job = find_job(doc.data, args.job)
    if job is None or job.get("operator") != "cryo_ingest":
        raise UsageError(f"{args.dag} has no cryo_ingest job named {args.job!r}")
    return job


def _range(args: argparse.Namespace, fixed: Partition | None) -> Partition:
    if (args.start_block is None) != (args.end_block is None):
        raise UsageError("give both --start-block and --end-block, or neither")
    if args.start_block is not None:
        if not 0 <= args.start_block <= args.end_block:
            raise UsageError(f"--end-block {args.end_block} must be >= --start-block {args.start_block} >= 0")
        return Partition(args.start_block, args.end_block)
    if fixed is None:
        raise UsageError("the job has no start_block/end_block: pass --start-block and --end-block")
    return fixed


def cmd_plan(args: argparse.Namespace) -> int:
    from cryo_ingest.partition import targets
    from cryo_ingest.plugin import CryoIngest

    operator, env = CryoIngest(), _env(args)
    resolved = operator.resolve_job(_load_job(args), env)
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
        for t in targets(resolved.spec, p, store)
    ]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            print(f"{row['partition_key']:>23}  {row['dataset']:<14} {row['prefix']}")
    return EXIT_OK


def _startup(args: argparse.Namespace, env: Mapping[str, str], resolved: ResolvedJob) -> tuple[Path, Any, Any]:
    """The logger (redacting the job's endpoint), the store, and the staging root with stale task directories swept."""
    from trace_operators.runtime import logs

    from cryo_ingest.publish.staging import check_outside_store, staging_root, staging_ttl_hours, sweep_stale

    endpoint = resolved.spec.endpoint
    logger = logs.configure(args.log_format, secrets=[endpoint.url] if endpoint else [])
    root = staging_root(env)
    store = _store(args, env)
    try:
        check_outside_store(root, store)
        removed = sweep_stale(root, staging_ttl_hours(env))
    except ValueError as error:
        raise UsageError(str(error)) from None
    if removed:
        logger.info("removed %d stale staging directories under %s", len(removed), root)
    return root, logger, store


def cmd_run(args: argparse.Namespace) -> int:
    from trace_operators.runtime.progress import Progress
    from trace_operators.runtime.runner import Runner

    from cryo_ingest.plugin import CryoIngest

    operator, env = CryoIngest(), _env(args)
    resolved = operator.resolve_job(_load_job(args), env)
    partitions = operator.plan(resolved, _range(args, resolved.range))
    root, logger, store = _startup(args, env, resolved)
    progress = Progress(len(partitions), sum(p.blocks for p in partitions), sys.stderr)
    runner = Runner(operator, resolved, store, root, logger, on_done=progress.update)
    try:
        summary = runner.run(partitions)
    except KeyboardInterrupt:
        print(
            "\ncryo-ingest run: interrupted; the partitions in flight stopped, and no prefix of theirs "
            "has a _SUCCESS marker",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    print(summary.text())
    where = store.ref(store.key(f"cryo/{resolved.spec.chain_id}/"))
    print(f"published under {where.scheme}://{where.bucket.rstrip('/')}/{where.prefix}")
    return EXIT_OK if not summary.failed else EXIT_PROBLEMS


def _read_task(source: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as error:
        raise FatalError(f"cannot read the task file {source}: {error.strerror}") from None


def cmd_task(args: argparse.Namespace) -> int:
    from trace_operators.contract import TaskContext, TaskResult
    from trace_operators.runtime.tasks import parse_task

    from cryo_ingest.plugin import CryoIngest

    env = _env(args)
    task_id, attempt = "", 0
    try:
        task = parse_task(_read_task(args.task))
        task_id, attempt = task.task_id, task.attempt
        operator = CryoIngest()
        resolved = operator.resolve_job(task.job, env)
        root, logger, store = _startup(args, env, resolved)
        ctx = TaskContext(task.task_id, task.attempt, store, root, logger, dataset_uuids=task.dataset_uuids)
        result = operator.run_partition(resolved, task.partition, ctx)
    except (TaskError, UsageError) as error:
        outcome = "retryable_error" if isinstance(error, TaskError) and error.retryable else "fatal_error"
        result = TaskResult(task_id, attempt, outcome, error_message=str(error))
    print(json.dumps(asdict(result)))
    return {"success": EXIT_OK, "retryable_error": EXIT_RETRYABLE}.get(result.outcome, EXIT_PROBLEMS)


COMMANDS = {"validate": cmd_validate, "schema": cmd_schema, "plan": cmd_plan, "run": cmd_run, "task": cmd_task}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as error:
        print(f"cryo-ingest {args.command}: {error}", file=sys.stderr)
        return EXIT_USAGE
    except FatalError as error:
        print(f"cryo-ingest {args.command}: {error}", file=sys.stderr)
        return EXIT_PROBLEMS


if __name__ == "__main__":
    sys.exit(main())
