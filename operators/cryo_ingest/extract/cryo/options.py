"""Cryo's keyword arguments from the job's options: one `cryo.freeze` call per group of datasets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cryo_ingest.extract.base import ExtractRequest
from cryo_ingest.job.options import OutputOptions, Throughput
from trace_operators.contract import FatalError

#: `u256_types` Cryo 0.3.2 writes for any value: `u32` and `u64` panic on overflow, `decimal128`
#: is not implemented.
U256_TYPES = ("binary", "string", "f32", "f64")

#: Each `Throughput` field and Cryo's keyword for it.
THROUGHPUT_KWARGS = {
    "requests_per_second": "requests_per_second",
    "max_concurrent_requests": "max_concurrent_requests",
    "max_concurrent_chunks": "max_concurrent_chunks",
    "max_retries": "max_retries",
    "initial_backoff_ms": "initial_backoff",
    "inner_request_size": "inner_request_size",
}
#: Throughput fields for which 0 means something (no retry, no wait).
_ZERO_ALLOWED = ("max_retries", "initial_backoff_ms")


@dataclass(frozen=True)
class CryoRun:
    """One `cryo.freeze(datasets, **kwargs)` call, as the child makes it (the RPC URL is added there)."""

    datasets: tuple[str, ...]
    kwargs: dict[str, Any]


def cryo_runs(request: ExtractRequest) -> list[CryoRun]:
    """One call per group of datasets sharing their column lists."""
    # Cryo applies `include_columns` and `exclude_columns` to every dataset of a call.
    common = {
        "blocks": [f"{request.start}:{request.end + 1}"],
        "chunk_size": request.chunk_size,
        "output_dir": str(request.out_dir),
        "network_name": str(request.chain_id),
        # Its summary of the failed chunks' errors is the only place Cryo gives them; the child reads it.
        "verbose": True,
        "no_report": True,  # a report would write the RPC URL to disk, and it names no error
        **output_kwargs(request.output),
        **throughput_kwargs(request.throughput),
    }
    output = request.output
    groups: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    for dataset in request.datasets:
        key = (tuple(output.include_columns.get(dataset, ())), tuple(output.exclude_columns.get(dataset, ())))
        groups.setdefault(key, []).append(dataset)
    return [
        CryoRun(
            tuple(datasets),
            {**common, "include_columns": list(include) or None, "exclude_columns": list(exclude) or None},
        )
        for (include, exclude), datasets in groups.items()
    ]


def output_kwargs(output: OutputOptions) -> dict[str, Any]:
    """Cryo's keyword arguments for the options that change the bytes written."""
    kwargs: dict[str, Any] = {"hex": output.hex, "compression": output.compression.cryo_arg()}
    if output.u256_types is not None:
        if not output.u256_types or not set(output.u256_types) <= set(U256_TYPES):
            raise FatalError(
                f"u256_types must be a non-empty list of {', '.join(U256_TYPES)}; got {list(output.u256_types)}"
            )
        kwargs["u256_types"] = list(output.u256_types)
    if output.row_group_size is not None:
        kwargs["row_group_size"] = _at_least("row_group_size", output.row_group_size, 1)
    return kwargs


def throughput_kwargs(throughput: Throughput) -> dict[str, Any]:
    """Cryo's keyword arguments for the options that change only how fast it reads."""
    return {
        cryos: _at_least(ours, value, 0 if ours in _ZERO_ALLOWED else 1)
        for ours, cryos in THROUGHPUT_KWARGS.items()
        if (value := getattr(throughput, ours)) is not None
    }


def _at_least(name: str, value: object, lowest: int) -> int:
    if type(value) is not int or value < lowest:
        raise FatalError(f"{name} must be an integer of at least {lowest}, not {value!r}")
    return value
