"""The schemas that travel (`schemas/`): the DAG file schema with the job schema bundled in, and a catalog entry.

Run `python -m cryo_ingest.job.dag_schema schemas` (`make schemas`) after changing the job schema.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cryo_ingest.job.validation import schema_text
from trace_operators.dag.checks import RESERVED_FIELDS

BASE_URL = "https://raw.githubusercontent.com/trace-operators/cryo-ingest/main/schemas/"
DAG_SCHEMA = "dag.schema.json"
JOB_SCHEMA = "cryo_ingest.job.schema.json"
CATALOG = "schemastore/catalog.json"
#: Where DAG files live by convention: the pre-commit hook's default `files:` says the same.
FILE_MATCH = ["**/dags/**/*.yaml", "**/dags/**/*.yml", "**/dag/**/*.yaml", "**/dag/**/*.yml"]
_PREFIX = "cryo_ingest."
_SCHEMA_KEYWORDS_WITH_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
# Ajv's strictRequired wants each required key declared beside it.
_NAMES_OPERATOR: dict[str, Any] = {"type": "object", "properties": {"operator": True}, "required": ["operator"]}


def render() -> dict[str, str]:
    """Each file of `schemas/` (path relative to it) and its text."""
    return {
        DAG_SCHEMA: _dump(dag_schema(json.loads(schema_text()))),
        JOB_SCHEMA: schema_text(),
        CATALOG: _dump(catalog()),
    }


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def catalog() -> dict[str, Any]:
    """A SchemaStore catalog (its `schemas` entry is what SchemaStore's own catalog.json would list)."""
    return {
        "$schema": "https://json.schemastore.org/schema-catalog.json",
        "version": 1,
        "schemas": [
            {
                "name": "cryo-ingest DAG",
                "description": "Trace platform DAG file whose cryo_ingest jobs bootstrap chain history with Cryo",
                "fileMatch": FILE_MATCH,
                "url": BASE_URL + DAG_SCHEMA,
            }
        ],
    }


def dag_schema(job: dict[str, Any]) -> dict[str, Any]:
    """Every document shape SPEC §3 accepts, with `job` (the cryo_ingest job schema) bundled under `$defs`."""
    defs = {_PREFIX + name: _portable(sub) for name, sub in job.get("$defs", {}).items()}
    root = {k: v for k, v in job.items() if k not in ("$schema", "$id", "$defs") and not k.startswith("x-")}
    defs[_PREFIX + "job"] = _portable(root)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": BASE_URL + DAG_SCHEMA,
        "title": "DAG file",
        "description": (
            "A DAG, a bare list of job blocks, or one job block; the cryo_ingest job schema applies to every job "
            "whose operator is cryo_ingest. cryo-ingest validate checks more than a schema can: secrets, "
            "references, duplicate keys, defaults applied."
        ),
        # The validator's order (trace_operators.dag.checks): a list, a mapping with jobs, any other mapping.
        "if": {"type": "array"},
        "then": {"$ref": "#/$defs/job_list"},
        "else": {
            "if": {"type": "object", "properties": {"jobs": True}, "required": ["jobs"]},
            "then": {"$ref": "#/$defs/dag"},
            "else": {"$ref": "#/$defs/job_block"},
        },
        "$defs": {**_shapes(), **defs},
    }


def _shapes() -> dict[str, Any]:
    """The three document shapes and the job block any operator may have."""
    return {
        "dag": {
            "title": "DAG",
            "description": "A DAG: its name, defaults applied to each job, jobs, publish, and x-* anchors.",
            "type": "object",
            "properties": {
                "name": {"title": "DAG name", "description": "Name of the DAG.", "type": "string"},
                "defaults": {
                    "title": "Defaults",
                    "description": "Job fields applied to every job that does not set them.",
                    "type": "object",
                    "properties": {field: False for field in RESERVED_FIELDS},
                },
                "jobs": {
                    "title": "Jobs",
                    "description": "The job blocks of the DAG.",
                    "type": "array",
                    "items": {"$ref": "#/$defs/job"},
                },
                "publish": {
                    "title": "Publish",
                    "description": "What the DAG publishes to the Query Service.",
                    "type": "object",
                },
            },
            "patternProperties": {
                "^x-": {"title": "Anchors", "description": "Holds YAML anchors; otherwise ignored (still scanned)."}
            },
            "additionalProperties": False,
            # A job may leave its operator to defaults; otherwise each job names one.
            "if": {
                "type": "object",
                "properties": {
                    "defaults": {"type": "object", "properties": {"operator": True}, "required": ["operator"]}
                },
                "required": ["defaults"],
            },
            "else": {
                "type": "object",
                # Only the requirement: the job schema is applied once, by `jobs` above.
                "properties": {"jobs": {"type": "array", "items": _NAMES_OPERATOR}},
            },
        },
        "job_list": {
            "title": "Job blocks",
            "description": "A fragment: a bare list of job blocks.",
            "type": "array",
            "items": {"$ref": "#/$defs/job_block"},
        },
        "job_block": {
            "title": "Job block",
            "description": "A job block that names its operator.",
            "type": "object",
            **_NAMES_OPERATOR,
            "$ref": "#/$defs/job",
        },
        "job": {
            "title": "Job",
            "description": "A job block of any operator; the platform's reserved fields are always rejected.",
            "type": "object",
            "properties": {
                "operator": {"title": "Operator", "description": "The operator that runs this job.", "type": "string"},
                **{field: False for field in RESERVED_FIELDS},
            },
            "if": {"type": "object", "properties": {"operator": {"const": "cryo_ingest"}}, "required": ["operator"]},
            "then": {"$ref": "#/$defs/" + _PREFIX + "job"},
        },
    }


def _portable(node: Any) -> Any:
    """`node` with its `$defs` references moved under the prefix, and union types as anyOf.

    Ajv's strict mode refuses `type: [a, b]`; the job schema keeps it, as the validator's messages name every type.
    """
    if isinstance(node, list):
        return [_portable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str) and value.startswith("#/$defs/"):
            out[key] = "#/$defs/" + _PREFIX + value.removeprefix("#/$defs/")
        elif key in _SCHEMA_KEYWORDS_WITH_SUBSCHEMA_MAPS:
            out[key] = {name: _portable(sub) for name, sub in value.items()}
        elif key == "type" and isinstance(value, list):
            if "anyOf" in node:
                raise ValueError(f"a union type beside anyOf cannot become anyOf: {node}")
            out["anyOf"] = [{"type": kind} for kind in value]
        elif key in ("examples", "default", "const", "enum"):
            out[key] = value  # values, never schemas: copied as written
        else:
            out[key] = _portable(value)
    return out


def main(argv: list[str]) -> int:
    """Write every file of render() under the folder named by argv[0]."""
    folder = Path(argv[0])
    for name, text in render().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
