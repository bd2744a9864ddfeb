"""JSON Schema errors as problems with stable rule ids and messages people can act on."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import fastjsonschema

from trace_operators.contract import Path_, Problem
from trace_operators.dag.quoting import shown

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator


def _show(value: Any) -> str:
    return shown(json.dumps(value, default=str))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`did you mean 'x'?` for the closest of `choices`, or nothing when none is close."""
    if len(word) > _LONGEST_GUESS:  # no name is this long, and comparing it to each would cost its length squared
        return ""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else ""


#: Past this length a word is no misspelt name.
_LONGEST_GUESS = 100

_TYPE_NAMES = {
    "integer": "an integer",
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "number": "a number",
    "null": "null",
}


#: jsonschema's ValidationError: its stubs type each attribute as possibly `Unset`, which none is once an error
#: is reported, so the attributes are read as the JSON values they are.
_Error = Any


def field_name(path: Path_) -> str:
    """`("inputs", 0, "from")` -> `inputs[0].from`."""
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or "the job block"


def _first_repeat(items: list[Any]) -> Any:
    """The first item listed again, found in one pass (JSON values are not all hashable: their text is)."""
    seen = set()
    for item in items:
        text = json.dumps(item, sort_keys=True, default=str)
        if text in seen:
            return item
        seen.add(text)
    return None


def _unknown_keys(error: _Error, path: Path_) -> list[Problem]:
    allowed = sorted(error.schema.get("properties", {}))
    extra = [k for k in error.instance if k not in allowed]
    return [
        Problem(
            "schema.unknown-key",
            f"unknown key {shown(str(key))!r} in {field_name(path)}",
            path + (key,),
            did_you_mean(str(key), allowed) or f"allowed keys: {', '.join(allowed)}",
            at_key=True,
        )
        for key in extra
    ]


def _enum_problem(error: _Error, path: Path_) -> Problem:
    allowed = [error.validator_value] if error.validator == "const" else list(error.validator_value)
    hint = did_you_mean(str(error.instance), [str(a) for a in allowed])
    shown = ", ".join(_show(a) for a in allowed[:8]) + (", ..." if len(allowed) > 8 else "")
    hint = hint or f"allowed: {shown}"
    return Problem("schema.value", f"{field_name(path)} is {_show(error.instance)}, which is not allowed", path, hint)


def _simple_problem(error: _Error, path: Path_) -> Problem:
    schema = error.schema if isinstance(error.schema, dict) else {}
    described = schema.get("description", "")
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1]
        # The path names the missing key, so the report points at its parent's key.
        return Problem(
            "schema.missing-key",
            f"{field_name(path)} is missing the required key {missing!r}",
            path + (missing,),
            f"add {missing}:",
        )
    if kind == "type":
        types = [error.validator_value] if isinstance(error.validator_value, str) else error.validator_value
        want = " or ".join(_TYPE_NAMES[t] for t in types)
        return Problem(
            "schema.type", f"{field_name(path)} must be {want}, not {_show(error.instance)}", path, described
        )
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        bound = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[kind]
        return Problem(
            "schema.range",
            f"{field_name(path)} is {_show(error.instance)}; it must be {bound} {error.validator_value}",
            path,
            described,
        )
    if kind == "pattern":
        return Problem(
            "schema.pattern",
            f"{field_name(path)} is {_show(error.instance)}, which does not have the expected form",
            path,
            described or f"expected: {error.validator_value}",
        )
    if kind == "uniqueItems":
        return Problem(
            "schema.items",
            f"{field_name(path)} lists {_show(_first_repeat(error.instance))} more than once",
            path,
            "list each once",
        )
    if kind in ("minItems", "maxItems", "minLength"):
        return Problem("schema.items", f"{field_name(path)}: {error.message}", path, described)
    return Problem(
        "schema.shape", f"{field_name(path)} has not the expected shape ({error.validator})", path, described
    )


def _problems(error: _Error, base: Path_) -> list[Problem]:
    path = base + tuple(error.absolute_path)
    if error.validator == "additionalProperties":
        return _unknown_keys(error, path)
    if error.validator in ("oneOf", "anyOf") and error.context:
        # Report the alternative that came closest: the one whose error lies deepest.
        return _problems(max(error.context, key=lambda e: len(e.absolute_path)), base)
    if "propertyNames" in error.schema_path:
        return [
            Problem(
                "schema.value",
                f"{field_name(path)} has the key {_show(error.instance)}, which is not allowed",
                path + (error.instance,),
                _enum_problem(error, path).hint,
                at_key=True,
            )
        ]
    if error.validator in ("enum", "const"):
        return [_enum_problem(error, path)]
    return [_simple_problem(error, path)]


def _inline_refs(node: Any, defs: dict[str, Any], inside: frozenset[str]) -> Any:
    """`node` with each `#/$defs/NAME` reference replaced by its definition (a recursive one kept as a reference);
    beside other keywords, as `allOf`, which is what a `$ref` among siblings means since draft 2019-09."""
    if isinstance(node, list):
        return [_inline_refs(item, defs, inside) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    name = ref.removeprefix("#/$defs/") if isinstance(ref, str) else None
    if name is None or name == ref or name not in defs or name in inside:
        return {key: _inline_refs(value, defs, inside) for key, value in node.items()}
    definition = _inline_refs(defs[name], defs, inside | {name})
    siblings = {key: _inline_refs(value, defs, inside) for key, value in node.items() if key != "$ref"}
    return {"allOf": [definition], **siblings} if siblings else definition


class SchemaCheck:
    """A JSON Schema compiled twice: to code that answers "valid?" fast, and for jsonschema to explain why not.

    Most job blocks are valid, and jsonschema takes about ten times as long as the compiled check to say so.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        # fastjsonschema knows drafts up to 7, which has every keyword these schemas use. Its code calls a function
        # per `$ref`, naming each item with `format(**locals())`: inlined, a job block is checked in 60% of the time.
        inlined = _inline_refs(schema, schema.get("$defs", {}), frozenset())
        self._fast = fastjsonschema.compile({**inlined, "$schema": "http://json-schema.org/draft-07/schema#"})
        self._schema = schema

    def is_valid(self, instance: Any) -> bool:
        try:
            self._fast(instance)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def problems(self, instance: Any, base: Path_ = ()) -> list[Problem]:
        """Every schema error of `instance` as problems located under `base`."""
        if self.is_valid(instance):
            return []
        return [p for error in self._explain.iter_errors(instance) for p in _problems(error, base)]

    @cached_property
    def _explain(self) -> Draft202012Validator:
        # Imported only now: jsonschema costs a tenth of a second of every start, and valid files never need it.
        from jsonschema import Draft202012Validator

        return Draft202012Validator(self._schema)
