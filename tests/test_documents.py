"""Loading DAG YAML: plain data, exact source positions, and every way a file is rejected."""

from __future__ import annotations

import json
import os
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

import pytest
import yaml

from trace_operators.dag.documents import Document, LoadProblem, load_document
from trace_operators.dag.files import iter_yaml_files

from tests.conftest import FIXTURES

#: The seed document's example job block, with its name made a template.
SPEC_BLOCK = (
    (FIXTURES / "valid" / "seed_example.yaml")
    .read_text()
    .split("\n", 1)[1]
    .replace("{", "{{")
    .replace("}", "}}")
    .replace("name: cryo_bootstrap", "name: {name}")
)


def write(tmp_path: Path, text: str, name: str = "dag.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def load(tmp_path: Path, text: str) -> Document:
    document, problems = load_document(write(tmp_path, text))
    assert problems == []
    assert document is not None
    return document


def rejected(tmp_path: Path, text: str | bytes) -> list[tuple[str, int, int, str]]:
    path = tmp_path / "dag.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(textwrap.dedent(text))
    document, problems = load_document(path)
    assert document is None
    assert problems
    return [(p.rule, p.line, p.col, p.message) for p in problems]


def dag_of(jobs: int) -> str:
    blocks = "".join(SPEC_BLOCK.format(name=f"cryo_bootstrap_{i}") for i in range(jobs))
    return "name: bench\njobs:\n" + textwrap.indent(blocks, "  ")


# --- data ---------------------------------------------------------------------------------------------------


def test_the_spec_block_loads_as_pyyaml_reads_it(tmp_path: Path) -> None:
    document = load(tmp_path, dag_of(2))
    assert document.source == str(tmp_path / "dag.yaml")
    assert document.data == yaml.safe_load(dag_of(2))
    assert document.data["jobs"][1] == {
        "name": "cryo_bootstrap_1",
        "activation": "reactive",
        "runtime": "ecs_platform",
        "operator": "cryo_ingest",
        "execution_strategy": "PerPartition",
        "idle_timeout": 0,
        "inputs": [{"from": {"job": "range_request", "output": 0}}],
        "config": {"chain_id": 10143, "datasets": ["blocks", "transactions", "logs"], "rpc_pool": "monad"},
        "scaling": {"max_concurrency": 20},
        "outputs": 3,
        "update_strategy": "replace",
        "timeout_seconds": 3600,
    }


def test_sexagesimal_and_leading_zero_octal_stay_strings_yaml_1_1_booleans_stay_booleans(tmp_path: Path) -> None:
    document = load(
        tmp_path,
        """\
        sexagesimal: 1:30
        sexagesimal_float: 1:30.5
        octal: 012
        negative_octal: -012
        underscored_octal: 0_12
        zero: 0
        hex: 0x1F
        binary: 0b101
        underscores: 1_000
        float: 2.50
        explicit_octal: !!int 012
        explicit_sexagesimal: !!int 1:30
        quoted: "012"
        "on": on
        yes_: yes
        off_: Off
        no_: NO
        null_: ~
        empty:
        infinite: .inf
    """,
    )
    assert document.data == {
        "sexagesimal": "1:30",
        "sexagesimal_float": "1:30.5",
        "octal": "012",
        "negative_octal": "-012",
        "underscored_octal": "0_12",
        "zero": 0,
        "hex": 31,
        "binary": 5,
        "underscores": 1000,
        "float": 2.5,
        "explicit_octal": 10,
        "explicit_sexagesimal": 90,
        "quoted": "012",
        "on": True,
        "yes_": True,
        "off_": False,
        "no_": False,
        "null_": None,
        "empty": None,
        "infinite": float("inf"),
    }


def test_timestamps_become_iso_strings(tmp_path: Path) -> None:
    document = load(
        tmp_path,
        """\
        date: 2024-01-02
        utc: 2024-01-02T03:04:05Z
        offset: 2001-12-14t21:59:43.10-05:00
        spaced: 2001-12-14 21:59:43.10 -5
        impossible: 2024-02-30
        quoted: "2024-01-02"
    """,
    )
    assert document.data == {
        "date": "2024-01-02",
        "utc": "2024-01-02T03:04:05+00:00",
        "offset": "2001-12-14T21:59:43.100000-05:00",
        "spaced": "2001-12-14T21:59:43.100000-05:00",
        "impossible": "2024-02-30",
        "quoted": "2024-01-02",
    }
    assert json.loads(json.dumps(document.data)) == document.data


def test_merge_keys_explicit_keys_win_earlier_sources_win_and_order_follows_pyyaml(tmp_path: Path) -> None:
    text = """\
        x-base: &base {activation: reactive, priority: low, runtime: ecs_platform}
        x-high: &high {priority: high, max_attempts: 3}
        jobs:
          - <<: [*high, *base]
            name: a
            activation: manual
          - name: b
            <<: *base
            priority: normal
    """
    # As the merge key spec says: earlier mappings of a `<<` list win. PyYAML 6.0.4 lets the later one win
    # or not depending on whether two key strings are the same object; its key order is the one kept here.
    jobs = load(tmp_path, text).data["jobs"]
    assert jobs == [
        {"priority": "high", "max_attempts": 3, "activation": "manual", "runtime": "ecs_platform", "name": "a"},
        {"activation": "reactive", "priority": "normal", "runtime": "ecs_platform", "name": "b"},
    ]
    assert [list(job) for job in jobs] == [list(job) for job in yaml.safe_load(textwrap.dedent(text))["jobs"]]


def test_aliases_build_separate_objects(tmp_path: Path) -> None:
    document = load(
        tmp_path,
        """\
        x-config: &config {chain_id: 1, datasets: [blocks]}
        jobs:
          - config: *config
          - config: *config
    """,
    )
    first, second = (job["config"] for job in document.data["jobs"])
    assert first == second == {"chain_id": 1, "datasets": ["blocks"]}
    first["datasets"].append("logs")
    assert second["datasets"] == ["blocks"]


# --- positions ----------------------------------------------------------------------------------------------


def test_positions_of_keys_and_values_nested_in_lists_and_in_flow_style(tmp_path: Path) -> None:
    document = load(tmp_path, dag_of(2))
    job = ("jobs", 1)
    assert document.locate(()) == (1, 1)
    assert document.locate(("name",)) == (1, 7)
    assert document.locate(("name",), at_key=True) == (1, 1)
    assert document.locate(("jobs",), at_key=True) == (2, 1)
    assert document.locate(job) == (20, 5)
    assert document.locate(job, at_key=True) == (20, 5)  # an item has no key: its own position
    assert document.locate((*job, "name")) == (20, 11)
    assert document.locate((*job, "name"), at_key=True) == (20, 5)
    assert document.locate((*job, "config", "chain_id")) == (29, 17)
    assert document.locate((*job, "config", "chain_id"), at_key=True) == (29, 7)
    assert document.locate((*job, "config", "datasets", 2)) == (30, 40)
    assert document.locate((*job, "scaling", "max_concurrency")) == (33, 24)
    # `    - from: { job: range_request, output: 0 }` inside the second job
    assert document.locate((*job, "inputs", 0)) == (27, 9)
    assert document.locate((*job, "inputs", 0, "from")) == (27, 15)
    assert document.locate((*job, "inputs", 0, "from", "job"), at_key=True) == (27, 17)
    assert document.locate((*job, "inputs", 0, "from", "job")) == (27, 22)
    assert document.locate((*job, "inputs", 0, "from", "output"), at_key=True) == (27, 37)
    assert document.locate((*job, "inputs", 0, "from", "output")) == (27, 45)


def test_positions_after_merge_keys_point_where_the_value_is_written(tmp_path: Path) -> None:
    document = load(
        tmp_path,
        """\
        x-defaults: &defaults
          activation: reactive
          scaling:
            max_concurrency: 20
        jobs:
          - <<: *defaults
            name: a
            activation: manual
    """,
    )
    assert document.locate(("jobs", 0, "scaling", "max_concurrency")) == (4, 22)
    assert document.locate(("jobs", 0, "scaling", "max_concurrency"), at_key=True) == (4, 5)
    assert document.locate(("jobs", 0, "scaling"), at_key=True) == (3, 3)
    assert document.locate(("jobs", 0, "activation")) == (8, 17)  # the explicit key, not the merged one
    assert document.locate(("jobs", 0, "name"), at_key=True) == (7, 5)


def test_positions_through_aliases_point_into_the_anchor(tmp_path: Path) -> None:
    document = load(
        tmp_path,
        """\
        x-inputs: &inputs
          - from: {job: range_request, output: 0}
        jobs:
          - name: a
            inputs: *inputs
    """,
    )
    assert document.locate(("jobs", 0, "inputs")) == (1, 11)  # the anchored node starts at its `&`
    assert document.locate(("jobs", 0, "inputs", 0, "from", "output")) == (2, 40)
    assert document.locate(("jobs", 0, "inputs", 0, "from", "job"), at_key=True) == (2, 12)


def test_a_missing_path_points_at_its_nearest_existing_ancestor(tmp_path: Path) -> None:
    document = load(tmp_path, dag_of(1))
    assert document.locate(("jobs", 0, "config", "start_block")) == (11, 5)  # the `config:` key
    assert document.locate(("jobs", 0, "config", "start_block"), at_key=True) == (11, 5)
    assert document.locate(("jobs", 0, "config", "datasets", 7)) == (13, 7)
    assert document.locate(("jobs", 0, "inputs", 0, "from", "dataset")) == (10, 9)  # `from:`
    assert document.locate(("jobs", 3, "name")) == (2, 1)
    assert document.locate(("jobs", 0, "name", "deeper")) == (3, 5)
    assert document.locate(("publish",)) == (1, 1)  # the root has no key: its own position
    assert document.locate(("jobs", "name")) == (2, 1)


def test_line_offset_inside_a_literal_block_is_exact(tmp_path: Path) -> None:
    document = load(
        tmp_path,
        """\
        jobs:
          - name: a
            description: |   # a comment on the header
              line zero

                indented two
              line three
            folded: >
              first
              second
            plain: one
              two
    """,
    )
    path = ("jobs", 0, "description")
    assert document.data["jobs"][0]["description"] == "line zero\n\n  indented two\nline three\n"
    assert document.locate(path) == (3, 18)
    assert document.locate(path, line_offset=0) == (3, 18)  # no offset: the value itself
    assert document.locate(path, line_offset=1) == (5, 7)
    assert document.locate(path, line_offset=2) == (6, 7)
    assert document.locate(path, line_offset=3) == (7, 7)
    assert document.locate(path, line_offset=9) == (7, 7)  # past the end: the last content line
    assert document.locate(("jobs", 0, "folded"), line_offset=1) == (10, 7)
    assert document.locate(("jobs", 0, "plain"), line_offset=1) == (12, 7)
    assert document.locate(("jobs", 0, "name"), line_offset=1) == (2, 11)


# --- rejections ---------------------------------------------------------------------------------------------


def test_syntax_errors_carry_libyaml_positions_and_a_hint(tmp_path: Path) -> None:
    document, problems = load_document(write(tmp_path, "jobs:\n  - name: a: b\n"))
    assert document is None
    assert problems == [
        LoadProblem(
            "yaml.syntax",
            "mapping values are not allowed in this context",
            2,
            12,
            "quote a value that holds ': ', or fix the indentation of this line",
        )
    ]
    assert rejected(tmp_path, "jobs:\n  - name: a\n   runtime: x\n") == [
        ("yaml.syntax", 3, 4, "did not find expected '-' indicator (while parsing a block collection on line 2)")
    ]
    assert rejected(tmp_path, "config:\n  chain_id: 1\n rpc_pool: monad\n") == [
        ("yaml.syntax", 3, 2, "did not find expected key (while parsing a block mapping on line 1)")
    ]
    assert rejected(tmp_path, "jobs:\n\t- name: a\n") == [
        (
            "yaml.syntax",
            2,
            1,
            "found character that cannot start any token (while scanning for the next token on " "line 2)",
        )
    ]
    assert rejected(tmp_path, "datasets: [blocks, logs\n") == [
        ("yaml.syntax", 2, 1, "did not find expected ',' or ']' (while parsing a flow sequence on line 1)")
    ]
    assert rejected(tmp_path, "a: *nowhere\n") == [("yaml.syntax", 1, 4, "found undefined alias")]
    assert rejected(tmp_path, "a: &x 1\nb: &x 2\n") == [
        ("yaml.syntax", 2, 4, "duplicate anchor (first defined on line 1)")
    ]
    assert rejected(tmp_path, "name: é\x07\n") == [
        ("yaml.syntax", 1, 8, "unacceptable character #x0007: control characters are not allowed")
    ]
    assert rejected(tmp_path, "a:\n  <<: [1]\n") == [
        ("yaml.syntax", 2, 8, "`<<` merges a mapping or a list of mappings, nothing else")
    ]


def test_nesting_too_deep_for_libyaml_or_for_python_is_a_syntax_problem(tmp_path: Path) -> None:
    assert rejected(tmp_path, "x: " + "[" * 900 + "]" * 900 + "\n") == [
        ("yaml.syntax", 1, 1, "the document is nested too deeply to load")
    ]
    assert rejected(tmp_path, "x: " + "[" * 2000 + "]" * 2000 + "\n") == [
        ("yaml.syntax", 1, 1003, "exceeded maximum nesting depth (while increasing flow level on line 1)")
    ]


def test_every_duplicate_key_is_reported_at_its_second_occurrence(tmp_path: Path) -> None:
    assert rejected(
        tmp_path,
        """\
        name: dag
        x-shared: &shared {priority: low, priority: high}
        jobs:
          - name: a
            from: {job: b, job: c}
            name: again
            <<: *shared
          - <<: *shared
        name: twice
    """,
    ) == [
        ("yaml.duplicate-key", 2, 35, "duplicate key `priority` (first on line 2)"),
        ("yaml.duplicate-key", 5, 20, "duplicate key `job` (first on line 5)"),
        ("yaml.duplicate-key", 6, 5, "duplicate key `name` (first on line 4)"),
        ("yaml.duplicate-key", 9, 1, "duplicate key `name` (first on line 1)"),
    ]
    _, problems = load_document(tmp_path / "dag.yaml")
    assert problems[0].hint == "keep one of them: PyYAML would silently keep the last"


def test_a_key_both_merged_and_explicit_is_not_a_duplicate_but_two_merge_keys_are(tmp_path: Path) -> None:
    assert load(tmp_path, "a: &a {x: 1}\nb: {<<: *a, x: 2}\n").data == {"a": {"x": 1}, "b": {"x": 2}}
    assert rejected(tmp_path, "a: &a {x: 1}\nb:\n  <<: *a\n  <<: *a\n") == [
        ("yaml.duplicate-key", 4, 3, "duplicate key `<<` (first on line 3)")
    ]


def test_billion_laughs_is_refused_without_expanding_it(tmp_path: Path) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi")]
    sizes = [10]
    for _ in range(8):
        sizes.append(1 + 9 * sizes[-1])
    expanded = 1 + sum(1 + size for size in sizes)
    assert rejected(tmp_path, "\n".join(lines) + "\n") == [
        (
            "yaml.alias-bomb",
            6,
            4,
            f"aliases would expand the document to {expanded:,} nodes from 28 written "
            "(limit 100,000 nodes, or 20x what is written)",
        )
    ]
    assert expanded == 490_329_064


def test_a_ten_level_nested_alias_bomb_is_refused(tmp_path: Path) -> None:
    text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
    text += "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 11))
    (problem,) = load_document(write(tmp_path, text))[1]
    assert (problem.rule, problem.line, problem.col) == ("yaml.alias-bomb", 5, 5)  # l4: the first past 100,000
    assert problem.message.startswith("aliases would expand the document to 123,456,790,133 nodes from 33 written")


def test_moderate_expansion_is_refused_by_ratio_but_ordinary_reuse_is_not(tmp_path: Path) -> None:
    three_levels = "a: &a [" + ", ".join(["x"] * 30) + "]\nb: &b [" + ", ".join(["*a"] * 30) + "]\n"
    three_levels += "c: [" + ", ".join(["*b"] * 30) + "]\n"
    assert rejected(tmp_path, three_levels) == [
        (
            "yaml.alias-bomb",
            1,
            1,
            "aliases would expand the document to 28,897 nodes from 37 written "
            "(limit 100,000 nodes, or 20x what is written)",
        )
    ]
    defaults = "x-defaults: &d\n" + "".join(f"  key{i}: value{i}\n" for i in range(40))
    jobs = "jobs:\n" + "".join(f"  - name: job{i}\n    <<: *d\n" for i in range(300))
    document = load(tmp_path, defaults + jobs)
    assert len(document.data["jobs"]) == 300 and document.data["jobs"][299]["key39"] == "value39"


def test_a_big_dag_of_aliased_defaults_is_no_bomb_but_growing_it_fivefold_is(tmp_path: Path) -> None:
    defaults = "x-defaults: &d {operator: cryo_ingest, outputs: 1}\nx-pool: &pool p\n"
    jobs = "jobs:\n" + "".join(f"  - name: job{i}\n    <<: *d\n    rpc_pool: *pool\n" for i in range(10_000))
    document = load(tmp_path, defaults + jobs)
    last = {"operator": "cryo_ingest", "outputs": 1, "name": "job9999", "rpc_pool": "p"}
    assert document.data["jobs"][9_999] == last
    jobs = "jobs:\n" + "".join("  - [*d, *d, *d]\n" for _ in range(25_000))
    assert rejected(tmp_path, defaults + jobs) == [
        (
            "yaml.alias-bomb",
            4,
            3,
            "aliases would expand the document to 400,011 nodes from 25,011 written "
            "(limit 125,055 nodes, or 20x what is written)",
        )
    ]


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    assert rejected(tmp_path, "jobs:\n  - &job\n    name: a\n    again: *job\n") == [
        ("yaml.alias-bomb", 2, 5, "an alias refers to a node that contains it: expansion would never end")
    ]


@pytest.mark.parametrize("text", ["", "# only a comment\n\n", "---\n", "--- # nothing\n...\n"])
def test_an_empty_file_holds_no_document(tmp_path: Path, text: str) -> None:
    assert load_document(write(tmp_path, text))[1] == [
        LoadProblem(
            "yaml.empty", "the file holds no document", 1, 1, "write a DAG, a list of job blocks or one job block"
        )
    ]


def test_an_explicit_null_document_is_data_not_empty(tmp_path: Path) -> None:
    assert load(tmp_path, "--- ~\n").data is None


def test_more_than_one_document_is_refused(tmp_path: Path) -> None:
    assert rejected(tmp_path, "name: one\n---\nname: two\n") == [
        ("yaml.multiple-documents", 2, 1, "the file holds more than one YAML document (`---`): only one DAG per file")
    ]
    assert rejected(tmp_path, "---\nname: one\n--- # two\n")[0][:3] == ("yaml.multiple-documents", 3, 1)


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    assert load_document(tmp_path / "missing.yaml") == (
        None,
        [LoadProblem("yaml.unreadable", "cannot read the file: it does not exist", 1, 1)],
    )
    assert load_document(tmp_path) == (
        None,
        [LoadProblem("yaml.unreadable", "cannot read the file: it is a directory", 1, 1)],
    )
    assert rejected(tmp_path, b"name: a\nrpc_pool: caf\xe9\n") == [
        ("yaml.unreadable", 1, 1, "the file is not UTF-8 (byte 0xe9 on line 2)")
    ]


def test_an_unreadable_file_reports_permission_denied(tmp_path: Path) -> None:
    path = write(tmp_path, "name: a\n")
    path.chmod(0)
    problems = problems_as_nobody(path) if os.geteuid() == 0 else load_document(path)[1]
    assert problems == [LoadProblem("yaml.unreadable", "cannot read the file: permission denied", 1, 1)]


def problems_as_nobody(path: Path) -> list[LoadProblem]:
    """load_document's problems in a forked child that dropped root, which reads any file, for `nobody`."""
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(write_end, json.dumps([asdict(p) for p in load_document(path)[1]]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read, "rb") as pipe:
        output = pipe.read()
    os.waitpid(pid, 0)
    return [LoadProblem(**fields) for fields in json.loads(output)]


def test_tags_beyond_plain_data_are_refused(tmp_path: Path) -> None:
    refused = "is refused: a DAG holds only plain data (strings, numbers, booleans, null, lists and mappings)"
    assert rejected(
        tmp_path,
        """\
        jobs:
          - name: !!python/object/apply:os.system ["echo owned"]
            config: !!binary aGk=
            datasets: !!set {blocks: null}
            priority: !custom high
            ok: !!str 12
            number: !!int twelve
            equals: =
    """,
    ) == [
        ("yaml.not-data", 2, 11, f"the tag `!!python/object/apply:os.system` {refused}"),
        ("yaml.not-data", 3, 13, f"the tag `!!binary` {refused}"),
        ("yaml.not-data", 4, 15, f"the tag `!!set` {refused}"),
        ("yaml.not-data", 5, 15, f"the tag `!custom` {refused}"),
        ("yaml.not-data", 7, 13, "`twelve` cannot be read as int"),
        ("yaml.not-data", 8, 13, "a bare `=` is YAML 1.1's value-key indicator, not data"),
    ]


def test_keys_must_be_strings(tmp_path: Path) -> None:
    assert rejected(
        tmp_path,
        """\
        1: x
        null: y
        ? [a, b]
        : z
        on: push
        2024-01-02: day
        "quoted": fine
        1:30: fine
    """,
    ) == [
        ("yaml.non-string-key", 1, 1, "the key `1` is read as an int, not a string: job blocks only use string keys"),
        ("yaml.non-string-key", 2, 1, "the key `null` is read as null, not a string: job blocks only use string keys"),
        ("yaml.non-string-key", 3, 3, "this key is a list, not a string: job blocks only use string keys"),
        ("yaml.non-string-key", 5, 1, "the key `on` is read as a bool, not a string: job blocks only use string keys"),
        (
            "yaml.non-string-key",
            6,
            1,
            "the key `2024-01-02` is read as a timestamp, not a string: job blocks only use string keys",
        ),
    ]
    _, problems = load_document(tmp_path / "dag.yaml")
    assert problems[0].hint == 'quote it: "1":'


def test_problems_of_several_rules_are_reported_together_in_source_order(tmp_path: Path) -> None:
    assert [p[:3] for p in rejected(tmp_path, "b: !!binary aGk=\n1: x\na: 1\na: 2\n")] == [
        ("yaml.not-data", 1, 4),
        ("yaml.non-string-key", 2, 1),
        ("yaml.duplicate-key", 4, 1),
    ]


# --- files --------------------------------------------------------------------------------------------------


def test_iter_yaml_files_walks_folders_sorted_and_skips_hidden_entries(tmp_path: Path) -> None:
    for name in [
        "dags/b.yaml",
        "dags/a.yml",
        "dags/sub/c.yaml",
        "dags/.git/x.yaml",
        "dags/.hidden.yaml",
        "dags/readme.md",
        "dags/sub/.cache/y.yml",
        "single.txt",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("a: 1\n")
    given = [tmp_path / "single.txt", tmp_path / "dags", tmp_path / "missing.yaml"]
    assert list(iter_yaml_files(given)) == [
        tmp_path / "single.txt",
        tmp_path / "dags/a.yml",
        tmp_path / "dags/b.yaml",
        tmp_path / "dags/sub/c.yaml",
        tmp_path / "missing.yaml",
    ]


def test_speed_of_load_document_on_fifty_job_blocks(tmp_path: Path) -> None:
    path = write(tmp_path, dag_of(50))
    document, problems = load_document(path)
    assert problems == [] and document is not None and len(document.data["jobs"]) == 50
    rounds = 40
    started = time.perf_counter()
    for _ in range(rounds):
        load_document(path)
    seconds = (time.perf_counter() - started) / rounds
    print(f"\nload_document: {seconds * 1e3:.2f} ms for 50 job blocks, {50 / seconds:,.0f} job blocks/s")


def test_comments_are_found_outside_quoted_and_block_scalars_up_to_a_syntax_error() -> None:
    from trace_operators.dag.comments import Comment, find_comments

    text = (
        "# top\n"
        "a: é # one\n"
        "b: |-  # header\n"
        "  text # inside the block\n"
        "c: 'q # quoted'  # after\n"
        'd: "x\n'
        '  # still quoted"\n'
        "e: a#b\n"
        "f: [1, # in flow\n"
        "  2]\n"
        "g: [\n"
        "# before the error\n"
    )
    assert find_comments(text) == [
        Comment(1, 1, " top"),
        Comment(2, 6, " one"),
        Comment(3, 8, " header"),
        Comment(5, 18, " after"),
        Comment(9, 8, " in flow"),
        Comment(12, 1, " before the error"),
    ]
    assert find_comments("a: 1\n") == []
