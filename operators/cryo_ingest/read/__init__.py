"""Read what a job published: the current view of its config, each block once, as URLs or a pyarrow dataset.

from cryo_ingest import read
blocks = read.dataset("dags/monad.yaml", job="cryo_bootstrap", dataset="blocks").to_table()
urls = read.files("dags/monad.yaml", job="cryo_bootstrap", dataset="logs", store="s3://bucket/lake")
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryo_ingest.extract.registry import extractor_name, extractor_version
from cryo_ingest.job.config import CryoSpec, spec_from_config
from cryo_ingest.job.datasets import canonical
from cryo_ingest.read.catalog import Stored
from cryo_ingest.read.status import Coverage, coverage
from cryo_ingest.read.view import current_keys, current_versions, object_url
from trace_operators.contract import FatalError, ObjectStore, Partition

if TYPE_CHECKING:
    import pyarrow.dataset

DEFAULT_STORE = "./cryo-data"
STORE_VARIABLE = "TRACE_CRYO_STORE"


class JobView:
    """A job's publications as a reader sees them: the versions of its current config, over a range."""

    def __init__(
        self, job: Mapping[str, Any], store: ObjectStore, extractor: str, within: Partition | None = None
    ) -> None:
        """`within` defaults to the job's own range, else everything published."""
        config = job["config"]
        self.spec: CryoSpec = spec_from_config(config, extractor, extractor_version(extractor))
        self.store = store
        fixed = Partition(config["start_block"], config["end_block"]) if "start_block" in config else None
        self.within = within or fixed
        size, origin = config.get("partition_size"), config.get("start_block", 0)
        #: The job's first partition: where its own partitions lie, which win over others that overlap them.
        self.grid = Partition(origin, origin + size - 1) if size else None

    def dataset_name(self, name: str) -> str:
        """The job's dataset of that name (or alias); `FatalError` naming the job's datasets."""
        dataset = canonical(name) or name
        if dataset not in self.spec.datasets:
            raise FatalError(f"the job has no dataset {name!r}; its datasets are: {', '.join(self.spec.datasets)}")
        return dataset

    def versions(self, dataset: str) -> list[Stored]:
        return current_versions(self.spec, self.store, self.dataset_name(dataset), self.within, self.grid)

    def urls(self, dataset: str) -> list[str]:
        """Every committed chunk file of the current view, a local path or `s3://…` each, in block order."""
        keys = current_keys(self.spec, self.versions(dataset), self.within)
        return [object_url(self.store, key) for key in keys]

    def coverage(self, dataset: str, rows: bool = False) -> Coverage:
        if self.within is None:
            raise FatalError("the job has no start_block/end_block: give the range to look at")
        return coverage(self.spec, self.store, self.dataset_name(dataset), self.within, self.grid, rows)


def open_job(
    dag: str | Path,
    job: str,
    *,
    store: str | None = None,
    extractor: str | None = None,
    start_block: int | None = None,
    end_block: int | None = None,
    env: Mapping[str, str] = os.environ,
) -> JobView:
    """The view of job `job` of a DAG file that validates; the store and extractor default as the CLI's do."""
    from cryo_ingest.job.load import load_job
    from cryo_ingest.plugin import operators
    from trace_operators.stores import open_store

    block = load_job(Path(dag), job, operators())
    if (start_block is None) != (end_block is None):
        raise FatalError("give both start_block and end_block, or neither")
    within = None if start_block is None or end_block is None else Partition(start_block, end_block)
    name = extractor or extractor_name(env)
    return JobView(block, open_store(store or env.get(STORE_VARIABLE) or DEFAULT_STORE, env), name, within)


def files(dag: str | Path, job: str, dataset: str, **options: Any) -> list[str]:
    """The current view's file URLs, in forms DuckDB's `read_parquet` and polars' `scan_parquet` take as is."""
    return open_job(dag, job, **options).urls(dataset)


def dataset(dag: str | Path, job: str, dataset: str, **options: Any) -> pyarrow.dataset.Dataset:
    """The current view as a `pyarrow.dataset.Dataset`: committed files of the current config, each block once."""
    import pyarrow.dataset as ds

    view = open_job(dag, job, **options)
    urls = view.urls(dataset)
    if view.store.scheme == "file":
        return ds.dataset(urls, format="parquet")
    env = options.get("env", os.environ)
    return ds.dataset([u.removeprefix("s3://") for u in urls], format="parquet", filesystem=_s3(env))


def _s3(env: Mapping[str, str]) -> Any:
    """pyarrow's S3 file system, pointed where boto3 would be (pyarrow ignores `AWS_ENDPOINT_URL` itself)."""
    from pyarrow import fs

    options: dict[str, Any] = {}
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint)
        options.update(endpoint_override=parts.netloc, scheme=parts.scheme or "https")
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    return fs.S3FileSystem(**options)
