"""The schemas that travel: built by code, self-contained, strict under Ajv and check-jsonschema, and the README's
editor set-up followed word for word. Both tools are real: a missing one fails the test, it never skips it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from cryo_ingest.job import dag_schema

from tests.conftest import FIXTURES, ROOT

SCHEMAS = ROOT / "schemas"
DAG = SCHEMAS / "dag.schema.json"
JOB = SCHEMAS / "cryo_ingest.job.schema.json"
AJV = ROOT / ".tools" / "node_modules" / ".bin" / "ajv"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
AJV_STRICT = ("--spec=draft2020", "--strict=true")
#: Faults no JSON Schema can see: sums, references across jobs, uniqueness across jobs, cron syntax, chain history.
#: Every other invalid fixture fails both tools: its fault is a key, type or value a schema states; each secret
#: sits in a key a cryo_ingest job does not have; and each yaml.* file is refused by the tools' YAML readers
#: (a syntax error, a duplicate key, a Python tag, more than one document) or is not a document the schema allows.
SCHEMA_BLIND = {
    "config.columns",
    "config.duplicate-dataset",
    "config.range",
    "config.too-many-files",
    "cryo.pre-byzantium",
    "dag.duplicate-name",
    "dag.missing-input",
    "dag.output-index",
    "dag.trigger-input",
    "job.outputs",
    "source.emit-strategy",
    "source.schedule",
    "source.threshold",
}
#: Ajv's strict mode refuses keywords it does not know: the platform's annotation on the job schema is declared.
AJV_KEYWORDS = 'module.exports = (ajv) => ajv.addKeyword({keyword: "x-trace-triggers", schemaType: "array"});\n'


def run(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    """A tool of the test environment, which must be installed (`make test` installs both)."""
    assert Path(argv[0]).exists(), f"{argv[0]} is missing: run `make test` (it installs the tools the tests need)"
    return subprocess.run([str(a) for a in argv], capture_output=True, text=True, check=False, cwd=ROOT)


def ajv_accepts(schema: Path, files: list[Path]) -> dict[str, bool]:
    """Ajv's verdict on each file; it stops at a file it cannot parse, which it thereby refuses."""
    verdicts: dict[str, bool] = {}
    pending = [str(f) for f in files]
    while pending:
        done = run(AJV, "validate", *AJV_STRICT, "--errors=no", "-s", schema, *(a for f in pending for a in ("-d", f)))
        found = dict(re.findall(r"^(\S+) (valid|invalid)$", done.stdout + done.stderr, re.M))
        verdicts.update({name: verdict == "valid" for name, verdict in found.items()})
        pending = [f for f in pending if f not in verdicts]
        if pending:
            assert "error:" in done.stderr, done.stderr
            verdicts[pending.pop(0)] = False
    return verdicts


def check_jsonschema_accepts(schema: Path, files: list[Path]) -> dict[str, bool]:
    """check-jsonschema's verdict on each file, refusing what it cannot parse."""
    done = run(CHECK_JSONSCHEMA, "-o", "json", "--schemafile", schema, *files)
    report = json.loads(done.stdout)
    refused = {Path(e["filename"]).resolve() for e in report["errors"] + report["parse_errors"]}
    return {str(f): f.resolve() not in refused for f in files}


def test_the_schemas_folder_is_what_the_code_builds() -> None:
    built = dag_schema.render()
    on_disk = {str(p.relative_to(SCHEMAS)): p.read_text() for p in SCHEMAS.rglob("*") if p.is_file()}
    assert sorted(on_disk) == sorted(built), "run `make schemas`"
    for name, text in built.items():
        assert on_disk[name] == text, f"schemas/{name} is stale: run `make schemas`"
    assert built[dag_schema.JOB_SCHEMA] == (ROOT / "operators" / "cryo_ingest" / "job.schema.json").read_text()


def test_the_dag_schema_is_self_contained_and_named_by_its_url() -> None:
    schema = json.loads(DAG.read_text())

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    for ref in refs(schema):
        assert ref.startswith("#/$defs/"), ref
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref
    assert schema["$id"] == dag_schema.BASE_URL + "dag.schema.json" and schema["$id"].startswith("https://")
    assert json.loads(JOB.read_text())["$id"] == dag_schema.BASE_URL + "cryo_ingest.job.schema.json"


def test_ajv_strict_mode_and_check_jsonschema_accept_both_schemas(tmp_path: Path) -> None:
    keywords = tmp_path / "keywords.js"
    keywords.write_text(AJV_KEYWORDS)
    editor = run(AJV, "compile", *AJV_STRICT, "-s", DAG)
    assert editor.returncode == 0, editor.stdout + editor.stderr
    # The job schema keeps union types (`type: [string, array]`): the validator's messages name each type.
    job = run(AJV, "compile", *AJV_STRICT, "--allow-union-types", "-c", keywords, "-s", JOB)
    assert job.returncode == 0, job.stdout + job.stderr
    meta = run(CHECK_JSONSCHEMA, "--check-metaschema", DAG, JOB)
    assert meta.returncode == 0, meta.stdout + meta.stderr


def test_the_installed_ajv_is_the_makefile_pin() -> None:
    pins = dict(re.findall(r"^(AJV_CLI_VERSION|AJV_VERSION) := (\S+)$", (ROOT / "Makefile").read_text(), re.M))
    modules = ROOT / ".tools" / "node_modules"
    for package, pin in (("ajv-cli", "AJV_CLI_VERSION"), ("ajv", "AJV_VERSION")):
        assert json.loads((modules / package / "package.json").read_text())["version"] == pins[pin], package


def test_both_tools_pass_the_valid_fixtures_and_fail_what_a_schema_can_see() -> None:
    files = sorted((FIXTURES / "valid").glob("*.yaml")) + sorted((FIXTURES / "invalid").glob("*.yaml"))
    expected = {str(f): f.parent.name == "valid" or f.name.removesuffix(".yaml") in SCHEMA_BLIND for f in files}
    # Side by side: check-jsonschema's YAML reader spends seconds expanding the alias bomb.
    with ThreadPoolExecutor() as pool:
        verdicts = {tool.__name__: pool.submit(tool, DAG, files) for tool in (ajv_accepts, check_jsonschema_accepts)}
    assert {name: future.result() for name, future in verdicts.items()} == {
        "ajv_accepts": expected,
        "check_jsonschema_accepts": expected,
    }


SHAPES = {
    "one-job-block": (yaml.safe_load((FIXTURES / "valid" / "seed_example.yaml").read_text())[0], True),
    "one-job-block-of-another-operator": ({"name": "splitter", "operator": "range_splitter"}, True),
    "a-dag-whose-defaults-name-the-operator": ({"defaults": {"operator": "range_splitter"}, "jobs": [{}]}, True),
    "a-dag-with-a-job-of-no-operator": ({"name": "d", "jobs": [{"name": "orphan"}]}, False),
    "a-list-with-a-job-of-no-operator": ([{"name": "orphan"}], False),
    "a-job-block-with-a-reserved-field": ({"operator": "range_splitter", "max_queue_age": 5}, False),
    "defaults-with-a-reserved-field": ({"defaults": {"backpressure_mode": "drop"}, "jobs": []}, False),
    "a-scalar": ("monad", False),
}


def test_every_documented_shape_and_no_other(tmp_path: Path) -> None:
    """SPEC §3's documents (the valid fixtures hold a DAG and a bare list), and what is none of them."""
    files = []
    for name, (document, _) in SHAPES.items():
        files.append(tmp_path / f"{name}.yaml")
        files[-1].write_text(yaml.safe_dump(document))
    expected = {str(f): SHAPES[f.stem][1] for f in files}
    assert ajv_accepts(DAG, files) == expected
    assert check_jsonschema_accepts(DAG, files) == expected


def editor_section() -> str:
    section = re.search(r"^### In an editor\n(.*?)^#{2,} ", (ROOT / "README.md").read_text(), re.S | re.M)
    assert section, "README.md has no section '### In an editor'"
    return section.group(1)


def modeline_target(text: str, where: Path) -> Path:
    """Where the YAML language server looks for the schema of a file at `where` whose text is `text`."""
    found = re.search(r"^# yaml-language-server: \$schema=(\S+)$", text, re.M)
    assert found, text
    return Path(os.path.normpath(where.parent / found.group(1)))


def test_the_readme_modeline_finds_the_schema_from_the_dag_it_shows(tmp_path: Path) -> None:
    section = editor_section()
    [layout] = re.findall(r"^```text\n(.*?)^```", section, re.S | re.M)
    [modeline] = re.findall(r"^```yaml\n(.*?)^```", section, re.S | re.M)
    dag_file, schema_file = layout.split()
    assert schema_file == "schemas/dag.schema.json"
    # The DAG repository the README lays out, the schema copied into it.
    (tmp_path / schema_file).parent.mkdir(parents=True)
    shutil.copy2(DAG, tmp_path / schema_file)
    (tmp_path / dag_file).parent.mkdir(parents=True)
    body = (FIXTURES / "valid" / "bootstrap.yaml").read_text().splitlines(keepends=True)
    (tmp_path / dag_file).write_text(modeline + "".join(line for line in body if "yaml-language-server" not in line))
    target = modeline_target((tmp_path / dag_file).read_text(), tmp_path / dag_file)
    assert target == tmp_path / schema_file
    done = run(CHECK_JSONSCHEMA, "--schemafile", target, tmp_path / dag_file)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_fixtures_modelines_find_the_schema() -> None:
    for path in FIXTURES.rglob("*.yaml"):
        text = path.read_text(errors="replace")
        if "yaml-language-server" in text:
            assert modeline_target(text, path) == DAG, path


def glob_matches(pattern: str, path: str) -> bool:
    """A SchemaStore `fileMatch` glob as editors read it: `**/` is any folders, even none; `*` stays in a name."""
    parts = re.split(r"(\*\*/|\*)", pattern)
    regex = "".join({"**/": "(?:.*/)?", "*": "[^/]*"}.get(part, re.escape(part)) for part in parts)
    return re.fullmatch(regex, path) is not None


def test_the_catalog_entry_names_the_schema_for_dag_files() -> None:
    catalog = json.loads((SCHEMAS / dag_schema.CATALOG).read_text())
    [entry] = catalog["schemas"]
    assert catalog["version"] == 1 and {"name", "description", "fileMatch", "url"} <= entry.keys()
    assert entry["url"] == json.loads(DAG.read_text())["$id"]
    hook = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())[0]["files"]
    for path in (
        "dags/monad.yaml",
        "repo/dags/team/monad.yml",
        "dag/x.yaml",
        "compose.yaml",
        ".github/workflows/ci.yml",
    ):
        assert any(glob_matches(p, path) for p in entry["fileMatch"]) == bool(re.search(hook, path)), path
