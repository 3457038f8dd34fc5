"""The Markdown tables of a benchmark run."""

from __future__ import annotations

from statistics import median
from typing import Any

LIBRARIES = [
    "plain",
    "plain save()",
    "revy",
    "revy, Context per op",
    "simple-history",
    "reversion",
    "auditlog",
    "pghistory",
]
DATABASE_TITLES = {
    "sqlite": "SQLite",
    "postgres": "PostgreSQL",
    "postgres-psycopg": "PostgreSQL, every statement prepared by psycopg "
    '(`OPTIONS: {"server_side_binding": True, "prepare_threshold": 2}`)',
}


def duration(seconds: float) -> str:
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def ratio_of(cell: dict[str, Any], row: dict[str, Any]) -> str:
    baseline = row.get(cell["baseline"]) if cell["baseline"] else None
    if not baseline or not baseline["seconds"] or not cell["seconds"]:
        return ""
    return f"**{median(cell['seconds']) / median(baseline['seconds']):.2f}\u00d7** "


def time_cell(cell: dict[str, Any] | None, row: dict[str, Any]) -> str:
    if cell is None:
        return "—"
    if not cell["seconds"]:
        return f"not measured ({cell['note']})" if cell["note"] else "not measured"
    seconds = cell["seconds"]
    return f"{ratio_of(cell, row)}{duration(median(seconds))} ({duration(min(seconds))}\u2013{duration(max(seconds))})"


def number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def query_cell(cell: dict[str, Any] | None) -> str:
    if cell is None or not cell["seconds"]:
        return "—"
    control = f" +{number(cell['transaction_control'])}" if cell["transaction_control"] else ""
    return f"{number(cell['queries'])}{control}"


def columns_of(results: dict[str, Any]) -> list[str]:
    present = {key for row in results.values() for key in row}
    return [key for key in LIBRARIES if key in present]


def table(results: dict[str, Any], cell_of: Any) -> list[str]:
    columns = columns_of(results)
    lines = ["| operation | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for op, row in results.items():
        lines.append(f"| {op} | " + " | ".join(cell_of(row.get(key), row) for key in columns) + " |")
    return lines


def notes(results: dict[str, Any]) -> list[str]:
    lines = []
    for op, row in results.items():
        described = [f"{key}: {cell['note']}" for key, cell in row.items() if cell["note"]]
        if described:
            lines.append(f"- *{op}* — " + "; ".join(described) + ".")
    return lines


PEERS = ("simple-history", "reversion", "auditlog", "pghistory")


def reads_against_peers(results: dict[str, Any]) -> list[str]:
    """revy's time for each read ÷ the fastest peer's nearest equivalent, where a peer has one."""
    lines = ["| read | revy | fastest peer | revy ÷ fastest |", "|---|---|---|---|"]
    for op, row in results.items():
        revy = row.get("revy")
        peers = {key: row[key] for key in PEERS if key in row and row[key]["seconds"]}
        if revy is None or not revy["seconds"] or revy["baseline"] is not None or not peers:
            continue
        fastest = min(peers, key=lambda key: median(peers[key]["seconds"]))
        mine, theirs = median(revy["seconds"]), median(peers[fastest]["seconds"])
        lines.append(f"| {op} | {duration(mine)} | {fastest} {duration(theirs)} | **{mine / theirs:.2f}\u00d7** |")
    return lines if len(lines) > 2 else []


def floor_table(floor: dict[str, Any]) -> list[str]:
    """Tracked ÷ untracked SQL, replayed through the driver alone: with revy's indexes and without."""
    ops = list(floor["indexed"])
    lines = ["| SQL replayed | " + " | ".join(ops) + " |", "|---" * (len(ops) + 1) + "|"]
    for label, key in (("as Django sends it", "indexed"), ("without revy's indexes", "unindexed")):
        replays = [floor[key][op] for op in ops]
        variants = [(label, replays)]
        if "prepared" in replays[0]:  # PostgreSQL
            variants.append((f"{label}, prepared once", [times["prepared"] for times in replays]))
        for name, measured in variants:
            cells = [
                f"**{t['tracked'] / t['plain']:.2f}\u00d7** ({duration(t['plain'])} \u2192 {duration(t['tracked'])})"
                for t in measured
            ]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def floor_note(floor: dict[str, Any], cascade: dict[str, Any]) -> list[str]:
    """What the database and Django alone charge for tracking (``benchmarks.floor``)."""
    how = f"{floor['statements']} statements in one transaction" if floor["in_transaction"] else "one statement"
    return [
        "Floor: the SQL of a plain write and the SQL of revy's tracked write (a create: "
        f"{how}), captured once and replayed through the driver alone, with no Django and no revy "
        f"(medians of {floor['n']}). No library that writes the same rows in the change's transaction, "
        "sending them as Django sends SQL, goes below *as Django sends it* here; *prepared once* "
        "(PostgreSQL) prepares both sides, plain Django's too: the server's share alone. "
        "*Without revy's indexes* replays the same SQL after "
        f"dropping the {floor['indexes']} indexes of revy's delta tables: the rows alone, found by nothing.",
        "",
        *floor_table(floor),
        "",
        f"Cascade: plain Django deletes a parent with {cascade['children']} children in "
        f"{duration(cascade['plain'])}; with a receiver that does nothing on the children's `pre_delete` "
        f"and `post_delete`, in {duration(cascade['listening'])}: "
        f"**{cascade['listening'] / cascade['plain']:.2f}\u00d7** (medians of {cascade['n']}). Once anything "
        "listens, Django loads every child and sends it both signals instead of deleting them in one "
        "statement; every signal-driven tracker pays this before it records a row.",
        "",
    ]


def render(results: dict[str, Any], skipped: dict[str, str], machine: dict[str, Any], sizes: Any, command: str) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    lines = [
        "# revy benchmark results",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores; Python {machine['python']}; {machine['platform']}.",
        f"Packages: {packages}.",
        f"Load average (1 min) of the machine: {machine['load'][0]:.2f} at the start, "
        f"{machine['load'][1]:.2f} at the end; other work on the machine shows as noise.",
        "",
        f"Reproduce: `{command}` (or `python -m benchmarks.run`, add `--quick` for a short run).",
        "",
        f"Each cell: **time ÷ plain Django's** for the same operation, then the median time per operation "
        f"over {sizes.rounds} rounds ({sizes.bulk_rounds} for the bulk row) and, in brackets, the fastest "
        "and slowest round. Rounds interleave the libraries. Single-row operations run in autocommit, "
        "each paying its own commit, as a view without `ATOMIC_REQUESTS` does. Per round: "
        f"{sizes.rows} creates/updates/deletes, {sizes.parents} cascades, {sizes.reads} reads; the "
        "libraries take turns operation by operation, and a round's time is the median of its operations.",
        "",
        "- *revy*: the operations run inside one `Context` opened around the batch, so the revision "
        "exists (steady state); every save or delete is still its own transaction and commit.",
        "- *revy, Context per op*: a `Context` per operation, so each also creates its revision "
        "(one view call = one Context = one revision).",
        "- *reversion*: each operation in its own `reversion.create_revision()`; it records nothing "
        "on delete (cascades included).",
        "- *pghistory* (PostgreSQL only): database triggers record inserts, updates and deletes.",
        "- The bulk creates compare row-by-row saves with plain Django's `save()` of each row in one "
        "transaction, and bulk paths with plain `bulk_create`; the `update()` row compares with plain "
        "Django's same `update()`, the `add()` row with plain Django's same `add()` (per member).",
        "- Reads run after `ANALYZE`, on tables holding everything the run wrote before.",
        "",
    ]
    for db, measured in results.items():
        rows = measured["results"]
        lines += [
            f"## {DATABASE_TITLES[db]}",
            "",
            f"{measured['database']}.",
            "",
            *table(rows, time_cell),
            "",
            *(
                ["Reads against the fastest peer (medians):", "", *reads, ""]
                if (reads := reads_against_peers(rows))
                else []
            ),
            *(floor_note(measured["floor"], measured["cascade_floor"]) if "floor" in measured else []),
            "SQL statements per operation (+ transaction control: BEGIN/COMMIT/SAVEPOINT as Django "
            "logs them; PostgreSQL's BEGIN is sent by the driver and not logged):",
            "",
            *table(rows, lambda cell, row: query_cell(cell)),
            "",
            "How each library did it:",
            "",
            *notes(rows),
            "",
        ]
    for db, reason in skipped.items():
        lines += [f"## {DATABASE_TITLES[db]}", "", f"Not measured: {reason}.", ""]
    return "\n".join(lines)
