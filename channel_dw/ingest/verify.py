"""Checks the ledger and the quarantine against what a generated landing folder planted.

The generator writes ``manifest.json`` with every awkward case and the outcome the contract
requires (a rejected file, a quarantined line, a skipped identical re-delivery ...). The demo
prints this check and the end-to-end test asserts it, so a loader regression shows up as a
named mismatch rather than as a different count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from psycopg2.extensions import connection as PgConnection


@dataclass
class ManifestCheck:
    checked: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    subject: str = "the ledger"

    def ok(self) -> bool:
        return not self.mismatches

    def summary(self) -> str:
        done = ", ".join(f"{n} {kind}" for kind, n in sorted(self.checked.items()))
        if self.ok():
            return f"{self.subject} matches the generator's manifest ({done})"
        return (
            f"{self.subject}: {len(self.mismatches)} mismatch(es) with the generator's manifest"
            f" ({done}):\n  " + "\n  ".join(self.mismatches)
        )


def verify_manifest(conn: PgConnection, manifest_path: Path) -> ManifestCheck:
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    result = ManifestCheck()
    with conn.cursor() as cur:
        cur.execute("select source, file_name, status, rule from audit.file_ledger")
        ledger: dict[tuple[str, str], list[tuple[str, str | None]]] = {}
        for source, name, status, rule in cur.fetchall():
            ledger.setdefault((source, name), []).append((status, rule))
        cur.execute("select source, file_name, line_no, rule from audit.quarantine")
        quarantined = {(s, f, line): rule for s, f, line, rule in cur.fetchall()}

    fixed_later: set[tuple[str, int]] = set()
    for entry in manifest.get("redeliveries", []):
        for line in entry.get("fixed_bad_row_lines", []):
            fixed_later.add((entry["file"], line))

    def statuses(rel: str) -> list[tuple[str, str | None]]:
        source, name = rel.split("/", 1)
        return ledger.get((source, name), [])

    def count(kind: str) -> None:
        result.checked[kind] = result.checked.get(kind, 0) + 1

    for case in manifest.get("awkward", []):
        expect, rel = case.get("expect"), case.get("file")
        if expect == "quarantined":
            count("quarantined rows")
            if (rel, case["line"]) in fixed_later:
                continue  # the corrected re-delivery fixed it; the bad delivery is superseded
            source, name = rel.split("/", 1)
            got = quarantined.get((source, name, case["line"]))
            if got != case["rule"]:
                result.mismatches.append(
                    f"{rel} line {case['line']}: expected quarantine rule {case['rule']}, "
                    f"got {got or 'not quarantined'}"
                )
        elif expect == "rejected":
            count("rejected files")
            if ("rejected", case["rule"]) not in statuses(rel):
                result.mismatches.append(
                    f"{rel}: expected rejected [{case['rule']}], ledger has {statuses(rel)}"
                )
    for entry in manifest.get("redeliveries", []):
        rel, expect = entry["file"], entry["expect"]
        count("re-deliveries")
        seen = sorted({status for status, _ in statuses(rel)})
        # Re-running a whole day adds more 'skipped' sightings of the same bytes: those are fine.
        wanted = {
            "skipped": ["loaded", "skipped"],
            "replaces": ["loaded", "superseded"] + (["skipped"] if "skipped" in seen else []),
            "loaded": ["loaded"] + (["skipped"] if "skipped" in seen else []),
        }.get(expect)
        if wanted is None or seen != sorted(wanted):
            result.mismatches.append(f"{rel} ({entry['kind']}): expected {wanted}, ledger {seen}")
    return result
