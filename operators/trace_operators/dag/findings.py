"""A problem at its place in a file, as every output format prints it: its message and hint masked, always."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from trace_operators.secrets import mask_secrets


@dataclass(frozen=True)
class Finding:
    """A problem at its place in a file; message and hint go through the one masker, whatever the rule."""

    file: str
    line: int
    col: int
    severity: str
    rule: str
    message: str
    hint: str = ""

    def __post_init__(self) -> None:
        # Here rather than in each rule: a rule that quotes a value of the document cannot print a secret.
        object.__setattr__(self, "message", mask_secrets(self.message))
        object.__setattr__(self, "hint", mask_secrets(self.hint))

    def text(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"{self.file}:{self.line}:{self.col}: {self.severity} [{self.rule}] {self.message}{hint}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """Every file's findings, in file order, and apart the findings allow comments accepted."""

    findings: list[Finding] = field(default_factory=list)
    allowed: list[Finding] = field(default_factory=list)

    def add(self, findings: list[Finding], allowed: list[Finding]) -> None:
        self.findings += findings
        self.allowed += allowed

    @property
    def errors(self) -> int:
        return sum(f.severity == "error" for f in self.findings)
