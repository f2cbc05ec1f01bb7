"""The exceptions that carry a bad-input verdict: file, line, rule and the offending text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BadInput(Exception):
    """Input that breaks the export contract.

    ``line`` is 1-based (the physical line of a text file, the event's position in a JSON
    document, the sheet row of a workbook); ``None`` when the rule concerns the whole file.
    """

    file: str
    line: int | None
    rule: str
    message: str
    text: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}, line {self.line}" if self.line is not None else self.file
        detail = f": {self.text[:200]!r}" if self.text else ""
        return f"{where}: {self.message} [rule {self.rule}]{detail}"


class FileRejected(BadInput):
    """The whole file breaks a file-level rule (trailer, count, encoding, header): kept aside."""


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and how to fix it."""
