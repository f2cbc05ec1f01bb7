"""Where a dbt model's query spends its time: the model compiled by dbt (its incremental select,
as the next run would execute it), run under ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)``, and the
plan's nodes ranked by their own time (a node's time less its children's).

The embedded PostgreSQL (pgserver) has no ``auto_explain``, so the plans are taken from the client:
the select is run once more than the build would run it, read-only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import psycopg2

PROJECT = "channel_dw"


def compiled_sql(model: str) -> str:
    """The SQL of ``model`` as the latest ``dbt compile`` wrote it (the model's own file: the
    compile also writes its unit tests' SQL, which reads fixtures)."""
    target = Path(os.environ["DBT_TARGET_PATH"])
    manifest = json.loads((target / "manifest.json").read_text())
    node = manifest["nodes"][f"model.{PROJECT}.{model}"]
    return (target / "compiled" / PROJECT / node["original_file_path"]).read_text()


def _label(node: dict) -> str:
    label = node["Node Type"]
    for key in ("Join Type", "Strategy", "Relation Name", "Alias", "Index Name", "CTE Name"):
        if key in node:
            label += f" {node[key]}"
    for key in ("Sort Key", "Group Key", "Hash Cond", "Merge Cond", "Index Cond", "Filter"):
        if key in node:
            detail = node[key] if isinstance(node[key], str) else ", ".join(node[key])
            label += f" [{key.lower()}: {detail[:90]}]"
            break
    return label


def own_times(plan: dict) -> list[dict]:
    """Every node of ``plan`` with its own time in ms (its total over all loops, less its
    children's) and the rows it returned, slowest first.

    A CTE's plan is a sibling of the nodes that scan it, and the first scan pulls the CTE's rows
    through that plan: a CTE Scan's own time is its total less the CTE plan's (an approximation
    when several nodes scan one CTE). Times under a Gather are summed over its workers."""
    nodes: list[dict] = []

    def total_ms(node: dict) -> float:
        return node.get("Actual Total Time", 0.0) * node.get("Actual Loops", 1)

    cte_ms: dict[str, float] = {}

    def find_ctes(node: dict) -> None:
        name = node.get("Subplan Name", "")
        if name.startswith("CTE "):
            cte_ms[name[4:]] = total_ms(node)
        for child in node.get("Plans", []):
            find_ctes(child)

    def walk(node: dict) -> None:
        children = node.get("Plans", [])
        # a CTE's plan (a child here) runs inside the CTE Scans that read it
        own = total_ms(node) - sum(
            total_ms(c) for c in children if not c.get("Subplan Name", "").startswith("CTE ")
        )
        if node["Node Type"] == "CTE Scan":
            own -= cte_ms.get(node.get("CTE Name", ""), 0.0)
        rows = node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
        nodes.append({"node": _label(node), "own_ms": round(max(own, 0.0)), "rows": rows})
        for child in children:
            walk(child)

    find_ctes(plan)
    walk(plan)
    nodes.sort(key=lambda n: n["own_ms"], reverse=True)
    return nodes


def explain(url: str, model: str, top: int = 8) -> dict:
    """The model's compiled select run under EXPLAIN ANALYZE: its execution time and its
    ``top`` slowest nodes."""
    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute("explain (analyze, buffers, format json) " + compiled_sql(model))
        result = cur.fetchone()[0]
        conn.rollback()
    result = result if isinstance(result, list) else json.loads(result)
    plan = result[0]
    return {
        "execution_s": round(plan["Execution Time"] / 1000, 1),
        "slowest_nodes": own_times(plan["Plan"])[:top],
        "plan": plan,
    }


def show(label: str, model: str, profile: dict) -> None:
    print(f"[{label}] {model}: the select takes {profile['execution_s']}s; slowest plan nodes:")
    for node in profile["slowest_nodes"]:
        print(f"    {node['own_ms'] / 1000:7.1f}s {node['rows']:>12,} rows  {node['node']}")
