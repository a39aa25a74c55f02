"""What building an oracle and checking a candidate against it return."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NoOracle:
    """No oracle could be built; ``reason`` says why in one line (e.g. an unsupported parameter type)."""

    reason: str


@dataclass(frozen=True)
class Counterexample:
    """One input on which the candidate and the C++ disagree, each side as printed by its driver."""

    input: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"input: {self.input}\nC++ gives: {self.expected}\nPython gives: {self.got}"


@dataclass(frozen=True)
class OracleResult:
    cases_passed: int
    cases_total: int
    first_failure: Counterexample | None = None

    @property
    def passed(self) -> bool:
        return self.cases_total > 0 and self.cases_passed == self.cases_total
