"""`validate` on any input: no traceback, no hang, no lost findings of other files, time linear in the size."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trace_operators.dag import validation
from trace_operators.dag.reading import parse_size
from trace_operators.dag.validation import Settings, validate_file, validate_paths
from trace_operators.plugins import PluginHost

from tests.conftest import FIXTURES

VALID = sorted((FIXTURES / "valid").glob("*.yaml"))
KEY = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
JOB = (
    "name: d\n"
    "jobs:\n"
    "  - name: {name}\n"
    "    operator: cryo_ingest\n"
    "    outputs: 1\n"
    "    inputs: [{{from: {{job: {job}, output: 0}}}}]\n"
    "    config:\n"
    "      chain_id: 1\n"
    "      datasets: [blocks]\n"
    "      rpc_pool: p\n"
    "      {extra}\n"
)


def rules_of(path: Path) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in validate_file(path, PluginHost().operators())]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"extra": "end_block: " + "1" * 5000}, ("yaml.not-data", 11)),
        ({"extra": "end_block: 0x" + "f" * 4000}, ("yaml.not-data", 11)),
        ({"extra": "start_block: !!timestamp not-a-time"}, ("yaml.not-data", 11)),
        ({"name": "[a, b]"}, ("schema.type", 3)),
        ({"name": "{a: 1}"}, ("schema.type", 3)),
        ({"job": "[a, b]"}, ("dag.missing-input", 6)),
        ({"job": "{a: 1}"}, ("dag.missing-input", 6)),
        ({"extra": "partition_size: " + "9" * 4000}, ("config.too-many-files", 11)),
    ],
    ids=["4300-digits", "huge-hex", "bad-timestamp", "list-name", "map-name", "list-job", "map-job", "huge-size"],
)
def test_odd_values_are_findings_not_crashes(tmp_path: Path, fields: dict[str, str], expected: tuple) -> None:
    dag = tmp_path / "x.yaml"
    dag.write_text(JOB.format(**{"name": "a", "job": "a", "extra": "chunk_size: 10", **fields}))
    found = rules_of(dag)
    assert expected in found and all(rule != "internal.error" for rule, _ in found)


def test_exclude_columns_as_a_string_is_a_type_error(tmp_path: Path) -> None:
    dag = tmp_path / "x.yaml"
    dag.write_text(JOB.format(name="a", job="nowhere", extra="exclude_columns: blocks"))
    found = rules_of(dag)
    assert ("dag.missing-input", 6) in found and ("schema.type", 11) in found
    assert all(rule != "internal.error" for rule, _ in found)


def test_a_rule_about_a_whole_mapping_leaves_the_schemas_problems_inside_it(tmp_path: Path) -> None:
    dag = tmp_path / "x.yaml"
    dag.write_text(JOB.format(name="a", job="a", extra="start_block: 0\n      partition_size: -1"))
    assert {"config.range", "schema.range"} <= {rule for rule, _ in rules_of(dag)}


def test_a_file_the_validator_fails_on_is_one_finding_and_the_others_are_kept(monkeypatch, tmp_path: Path) -> None:
    for i in range(70):  # past PARALLEL_FROM_FILES: the forked workers isolate files too
        (tmp_path / f"f{i:02d}.yaml").write_text("name: d\nunknown: 1\njobs: []\n")
    checks = validation.check_document

    def crash_on_f33(data, *args):
        if "crash" in data:
            raise KeyError("boom")
        return checks(data, *args)

    (tmp_path / "f33.yaml").write_text("name: d\ncrash: 1\njobs: []\n")
    monkeypatch.setattr(validation, "check_document", crash_on_f33)
    for workers in (1, 2):
        report = validate_paths([tmp_path], PluginHost().operators(), workers=workers)
        found = [(Path(f.file).name, f.rule) for f in report.findings]
        assert found.count(("f33.yaml", "internal.error")) == 1
        assert len(found) == 70 and found.count(("f00.yaml", "dag.unknown-key")) == 1
        [crash] = [f for f in report.findings if f.rule == "internal.error"]
        assert crash.message == "the validator failed on this file (KeyError); nothing else of it was checked"


def test_files_that_are_not_regular_files_are_one_problem_each_and_never_block(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock.yaml"))
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    (tmp_path / "ok.yaml").write_text("name: d\nunknown: 1\njobs: []\n")
    report = validate_paths([tmp_path, Path("/dev/null")], PluginHost().operators())  # a blocking open never returns
    server.close()
    assert [(Path(f.file).name, f.rule, f.message) for f in report.findings] == [
        ("ok.yaml", "dag.unknown-key", "unknown DAG key 'unknown'"),
        ("pipe.yaml", "yaml.unreadable", "cannot read the file: it is a named pipe, not a regular file"),
        ("sock.yaml", "yaml.unreadable", "cannot read the file: it is a socket, not a regular file"),
        ("zero.yaml", "yaml.unreadable", "cannot read the file: it is a character device, not a regular file"),
        ("null", "yaml.unreadable", "cannot read the file: it is a character device, not a regular file"),
    ]


def test_a_file_over_the_size_limit_is_one_problem(cli, tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("name: d\n" + "# padding\n" * 200)
    done = cli("validate", "--max-file-size", "1KB", "big.yaml")
    assert done.returncode == 1
    assert done.stdout == (
        "big.yaml:1:1: error [yaml.unreadable] the file is 2,008 bytes, over the limit of 1,000 bytes (hint: a DAG "
        "is far smaller: check that this is the file meant, or raise the limit with --max-file-size)\n"
    )
    assert cli("validate", "--max-file-size", "lots", "big.yaml").returncode == 2


def test_sizes_read_as_people_write_them() -> None:
    assert [parse_size(s) for s in ("1000", "50MB", "50 mb", "1.5GB", "64KiB", "2MiB")] == [
        1000,
        50_000_000,
        50_000_000,
        1_500_000_000,
        65_536,
        2_097_152,
    ]
    assert Settings().max_file_size == 50_000_000


@pytest.mark.parametrize(
    "text",
    [
        "name: " + "a." * 500_000 + "com\n",
        "name: d\nx-a:\n" + "".join("  k: 1\n" for _ in range(20_000)),
        "name: d\njobs:\n"
        + "".join(f"  - {{name: j{i}, operator: o, inputs: [{{from: {{job: x}}}}]}}\n" for i in range(3000)),
        "# c\n" * 100_000 + "name: d\n",
    ],
    ids=["1MB-dotted", "20k-duplicate-keys", "3000-missing-inputs", "100k-comments"],
)
def test_time_grows_linearly_with_the_input(tmp_path: Path, text: str) -> None:
    dag = tmp_path / "x.yaml"
    dag.write_text(text)
    # No wall time asserted: a quadratic step makes these inputs take minutes, which the suite's time shows.
    findings = validate_file(dag, PluginHost().operators())
    assert all(len(f.message) + len(f.hint) < 1000 for f in findings)


# --- mutations of the valid fixtures ----------------------------------------------------------------------------

ODD = [
    "1" * 4400,
    "0x" + KEY,
    "!!timestamp x",
    "!!binary aGk=",
    "!!python/object:os.system x",
    "[a, {b: c}]",
    "{a: [1]}",
    "*nowhere",
    "&a [*a]",
    "<<",
    "=",
    "~",
    "1e999",
    ".nan",
    "'\\x00'",
    '"\\ud800"',
    "? [a]\n  : b",
    "|\n  " + KEY,
    "- - -",
    "!!int 1:2:3",
    "-0o17",
    "2001-13-45",
]


def mutate(text: str, data: st.DataObject) -> str:
    lines = text.splitlines(keepends=True)
    kind = data.draw(st.sampled_from(["flip", "truncate", "shuffle", "replace", "plant"]))
    if kind == "flip":
        raw = bytearray(text.encode())
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] ^= 1 << data.draw(st.integers(0, 7))
        return raw.decode("utf-8", "replace")
    if kind == "truncate":
        return text[: data.draw(st.integers(0, len(text)))]
    if kind == "shuffle":
        return "".join(data.draw(st.permutations(lines)))
    at = data.draw(st.integers(0, len(lines) - 1))
    head, colon, _ = lines[at].partition(": ")
    if kind == "plant":
        return "".join([*lines[:at], f"{head}: {KEY}  # {KEY}\n", *lines[at + 1 :]])
    value = data.draw(st.sampled_from(ODD))
    return "".join([*lines[:at], f"{head}{colon or ': '}{value}\n", *lines[at + 1 :]])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=st.sampled_from(VALID), data=st.data())
def test_validate_survives_any_mutation_of_the_valid_fixtures(tmp_path: Path, source: Path, data) -> None:
    text = mutate(source.read_text(), data)
    dag = tmp_path / "mutated.yaml"
    dag.write_text(text, errors="surrogateescape")
    lines = dag.read_bytes().decode("utf-8", "replace").splitlines() or [""]
    for finding in validate_file(dag, PluginHost().operators()):
        assert finding.rule != "internal.error", finding
        assert 1 <= finding.line <= len(lines) + 1, finding
        assert 1 <= finding.col <= len(lines[min(finding.line, len(lines)) - 1]) + 2, finding
        assert KEY not in finding.message and KEY not in finding.hint, finding
