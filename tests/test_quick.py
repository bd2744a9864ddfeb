"""Plain block YAML read without nodes: the very data, node count and job starts composing gives, or no answer."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from yaml.nodes import ScalarNode

from trace_operators.dag import documents
from trace_operators.dag.quick import quick_data
from trace_operators.dag.yaml_data import _resolved, resolve

from tests.test_robust import mutate

FIXTURES = sorted(Path(__file__).parent.parent.joinpath("fixtures", "dags").rglob("*.yaml"))
VALID = sorted(Path(__file__).parent.parent.joinpath("fixtures", "dags", "valid").glob("*.yaml"))


def typed(value: Any) -> Any:
    """`value` with every type spelled out: 1, 1.0 and True are equal in Python, and NaN is not even itself."""
    if isinstance(value, dict):
        return ("dict", [(k, typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    if isinstance(value, float) and math.isnan(value):
        return ("float", "nan")
    return (type(value).__name__, value)


def agrees(text: str) -> bool:
    """Whether `text` was read quickly; if it was, that composing it gives the same, without a problem."""
    quick = quick_data(text)
    if quick is None:
        return False
    doc, problems = documents._composed("f.yaml", text)
    assert problems == []
    assert doc is not None
    assert typed(quick.data) == typed(doc.data)
    assert (quick.nodes, quick.nodes) == doc.node_counts()
    if quick.job_starts is not None:
        assert quick.job_starts == doc.job_starts()
    return True


def test_the_fixtures_read_quickly_are_read_as_composed() -> None:
    quick = [path.name for path in FIXTURES if agrees(path.read_bytes().decode("utf-8", "replace"))]
    assert {"bootstrap.yaml", "secret.key-name.yaml", "dag.duplicate-name.yaml"} <= set(quick)
    assert not {"yaml.duplicate-key.yaml", "yaml.syntax.yaml", "yaml.alias-bomb.yaml"} & set(quick)


@pytest.mark.parametrize(
    ("text", "data"),
    [
        (
            "a: 1\nb:\n  c: x\n  d:\n  - 1\n  - [a, 'b', \"c\"]\ne:\n",
            {"a": 1, "b": {"c": "x", "d": [1, ["a", "b", "c"]]}, "e": None},
        ),
        ("jobs:\n- name: a\n  x: {}\n-   y: []\n", {"jobs": [{"name": "a", "x": {}}, {"y": []}]}),
        ("# c\na: b # c\nc: 'it # is'x\n".replace("'x", "'"), None),  # a " #" in quotes: composed
        (
            "a: ~\nb: yes\nc: 0x1f\nd: 1_000\ne: .inf\nf: 2020-01-02\ng: 012\nh: 1:30\ni: -5\nj: http://x:1/y\n",
            {
                "a": None,
                "b": True,
                "c": 31,
                "d": 1000,
                "e": math.inf,
                "f": "2020-01-02",
                "g": "012",
                "h": "1:30",
                "i": -5,
                "j": "http://x:1/y",
            },
        ),
        ("- a\n- b: 1\n  c:\n  - d\n", ["a", {"b": 1, "c": ["d"]}]),
    ],
    ids=["nested", "jobs", "hash-in-quotes", "scalars", "root-list"],
)
def test_plain_block_yaml_is_read_quickly(text: str, data: Any) -> None:
    assert agrees(text) is (data is not None)
    if data is not None:
        assert typed(quick_data(text).data) == typed(data)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "a: |\n  text\n",
        "a: >\n  text\n",
        "a: plain\n  continued\n",
        "a: {b: {c: 1}}\n",
        "a: {b:1}\n",
        "a: {b: 1, b: 2}\n",
        'a: "tab\\tbed"\n',
        "a: 1\na: 2\n",
        "on: 1\n",
        "<<: {a: 1}\n",
        "a:\tb\n",
        "a: 1\r\nb: 2\r\n",
        "---\na: 1\n",
        "a: 1\n...\n",
        "%YAML 1.1\n---\na: 1\n",
        "? a\n: b\n",
        "'a': 1\n",
        "a: [b, [c]]\n",
        "a: 99999999999999999999" + "9" * 5000 + "\n",
        "a: !!timestamp x\n",
        "".join(" " * i + "k:\n" for i in range(70)) + " " * 70 + "v: 1\n",
        "a: b: c\n",
        "a:\n  - - x\n",
        "",
        "# only\n",
    ],
)
def test_anything_else_is_composed(text: str) -> None:
    assert quick_data(text) is None


@settings(max_examples=500, deadline=None)
@given(text=st.text(alphabet="0123456789_+-.:eExXoObB~yYnNtTfF aé١٢", max_size=8), plain=st.booleans())
def test_the_resolvers_shortcut_gives_what_its_regexes_give(text: str, plain: bool) -> None:
    assert resolve(ScalarNode, text, (plain, not plain)) == _resolved(ScalarNode, text, (plain, not plain))


_KEYS = st.sampled_from(["a", "b", "on", "yes", "null", "x-a", "a.b", "_", "1", "<<", "=", "jobs", "name", "k y"])
_TEXT = st.text(alphabet="ab :#-'\"[],{}&*!|>%@`\\~.0123456789xeé\t\n", max_size=10)
_SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _TEXT)
_DATA = st.recursive(
    _SCALAR, lambda c: st.lists(c, max_size=4) | st.dictionaries(_KEYS | _TEXT, c, max_size=4), max_leaves=25
)


@settings(max_examples=300, deadline=None)
@given(data=_DATA, flow=st.sampled_from([False, None]), indent=st.integers(2, 5), width=st.sampled_from([20, 80, 1000]))
def test_dumped_data_is_read_as_composed(data: Any, flow: bool | None, indent: int, width: int) -> None:
    text = yaml.safe_dump(
        data, default_flow_style=flow, indent=indent, width=width, allow_unicode=True, sort_keys=False
    )
    agrees(text)


_LINES = [
    "a: 1",
    "b:",
    "- x",
    "- a: 1",
    "- b:",
    "-",
    "c: [x, 'y', \"z\"]",
    "d: {}",
    "e: 'q #x'",
    "f: x # c",
    "# c",
    "g: on",
    "on: 1",
    "h: 'it''s'",
    'i: "a\\tb"',
    "j: &a 1",
    "k: *a",
    "l: |",
    "text",
    "m: -1",
    "n: - x",
    "o: a: b",
    "p: 0x1f",
    "q: 012",
    "r: 1:30",
    "s: ~",
    "t: 2020-01-01",
    "u: [a, [b]]",
    "v: []",
    "w: x:y",
    "- - x",
    "x: http://a",
    "y:  2",
    "jobs:",
    "- name: j",
    "'k': v",
    "k : v",
    "k: v ",
    'k: ""',
    "z: .inf",
    "aa: yes",
    "- [a, b]",
    "- 'q'",
    "- {}",
    "b: [ ]",
    "c: [a, ]",
    "d: -",
    "e: '",
    "f: x #",
    "g:#",
    "h: [a]b",
    "- ? x",
    "ab: {a: 1, b: x}",
    "ac: {a: 1, a: 2}",
    "ad: {a:1}",
    "ae: { }",
]


@settings(max_examples=400, deadline=None)
@given(lines=st.lists(st.tuples(st.sampled_from([0, 0, 2, 2, 4, 6, 1, 3]), st.sampled_from(_LINES)), max_size=14))
def test_any_mix_of_lines_is_read_as_composed(lines: list[tuple[int, str]]) -> None:
    agrees("".join(" " * indent + body + "\n" for indent, body in lines))


_WRITTEN = [
    "1",
    "-1",
    "012",
    "0x1f",
    "1_000",
    "1:30",
    "1.5",
    ".inf",
    "~",
    "null",
    "on",
    "yes",
    "2020-01-01",
    "x",
    "a b",
    "x:y",
    "http://a/b",
    "'q'",
    "'it''s'",
    '""',
    '"a # b"',
    "x # c",
    "x#c",
    "[a, 'b', 1]",
    "[ ]",
    "{a: 1, b: x}",
    "{}",
    "é",
    "-x",
    "a,b",
    "a]",
]
_ODD = ["!x", "&a x", "*a", "|", "'a", "x:", "[a, [b]]", "{a: {b: 1}}", "a: b", "- x", "[a,]", "'a # b'"]


@st.composite
def _written(draw: st.DrawFn, depth: int = 0) -> list[str]:
    """Lines of a block mapping or list as people write them: any step of indent, lists compact or not, comments."""
    step = draw(st.integers(1, 4))
    is_list = draw(st.booleans())
    lines: list[str] = []
    names = draw(st.permutations(["a", "b", "jobs", "name", "c.d", "e-f", "on" if draw(st.integers(0, 9)) else "g"]))
    for name in names[: draw(st.integers(1, 4))]:
        key = "" if is_list else name + ":"
        lead = "- " + key if is_list else key
        if depth < 3 and draw(st.booleans()):
            inner = draw(_written(depth + 1))
            if is_list and not inner[0].startswith("-"):
                lines += [lead + " " + inner[0].lstrip() if key == "" else lead, *(" " * 2 + x for x in inner[1:])]
            else:
                indent = 0 if draw(st.booleans()) and inner[0].startswith("-") and not is_list else step
                lines += [lead.rstrip(), *(" " * indent + x for x in inner)]
        else:
            value = draw(st.sampled_from(_WRITTEN if draw(st.integers(0, 9)) else _ODD))
            lines.append((lead + " " + value).rstrip())
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["", "# c", "   # c"])))
    return lines


@settings(max_examples=400, deadline=None)
@given(lines=_written())
def test_block_yaml_as_written_is_read_as_composed(lines: list[str]) -> None:
    agrees("\n".join(lines) + "\n")


@settings(max_examples=150, deadline=None)
@given(source=st.sampled_from(VALID), data=st.data())
def test_mutated_fixtures_are_read_as_composed(source: Path, data: st.DataObject) -> None:
    agrees(mutate(source.read_text(), data).encode("utf-8", "replace").decode("utf-8"))
