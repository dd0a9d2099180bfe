"""Tables with list, STRUCT and MAP columns for the differential tests, views over them, and
random changes.

Values come from tiny domains (NULLs, empty lists and maps, NULL elements and fields among
them), so that equal values meet in GROUP BY, DISTINCT and joins, and updates and deletes that
name a nested value find rows to change.
"""

from __future__ import annotations

from hypothesis import strategies as st

NESTED_TABLES = {
    "nt": (
        "CREATE TABLE nt (id INTEGER, tags VARCHAR[], nums INTEGER[], "
        "s STRUCT(a INTEGER, b VARCHAR), m MAP(VARCHAR, INTEGER))"
    ),
    "dim": "CREATE TABLE dim (k INTEGER, label VARCHAR, tags VARCHAR[])",
}

_TAGS = ["[]", "['x']", "['x', 'y']", "ARRAY['y', NULL]", "NULL", "['y']"]
_NUMS = ["[1, 2]", "[2]", "[]", "[NULL]", "NULL", "ARRAY[2, 1]"]
_STRUCTS = ["{'a': 1, 'b': 'x'}", "{'a': NULL, 'b': 'y'}", "NULL", "{'a': 2, 'b': NULL}"]
_MAPS = ["MAP {'k': 1}", "MAP {'k': 2, 'j': 3}", "MAP {}", "NULL", "MAP {'j': 1}"]
_IDS = ["0", "1", "2", "3", "NULL"]

# Each view keeps, reads, groups by, joins beside or builds nested values.
NESTED_VIEWS = {
    "kept": "SELECT id, tags, nums, s, m FROM nt WHERE id > 0",
    "elements": (
        "SELECT id, tags[1] AS first_tag, nums[2] AS second, s.a AS sa, (s).b AS sb, "
        "m['k'] AS mk, len(nums) AS n FROM nt"
    ),
    "by_tags": "SELECT tags, count(*) AS n, sum(id) AS total FROM nt GROUP BY tags",
    "by_struct": "SELECT s, count(*) AS n, max(id) AS hi FROM nt GROUP BY s",
    "by_map": "SELECT m, count(*) AS n FROM nt GROUP BY m",
    "distinct_nums": "SELECT DISTINCT nums FROM nt",
    "distinct_all": "SELECT DISTINCT tags, s, m FROM nt",
    "joined": "SELECT nt.id, nt.tags, nt.s, dim.label FROM nt JOIN dim ON nt.id = dim.k",
    "padded": "SELECT dim.k, dim.tags, nt.m FROM dim LEFT JOIN nt ON dim.k = nt.id",
    "list_key": "SELECT nt.id, dim.label FROM nt JOIN dim ON nt.tags = dim.tags",
    "unnested": "SELECT id, unnest(tags) AS tag FROM nt",
    "built": (
        "SELECT id, [id, id + 1] AS pair, {'x': id, 'y': tags} AS st, "
        "list_append(nums, id) AS more FROM nt"
    ),
    "field_filter": "SELECT id, s FROM nt WHERE s.a = 1 OR tags = ['x']",
    "top": "SELECT id, tags FROM nt ORDER BY tags DESC NULLS LAST, id LIMIT 3",
    "aggregated": "SELECT s.b AS b, array_agg(id ORDER BY id) AS ids FROM nt GROUP BY s.b",
}


def _choice(draw, domain: list[str]) -> str:
    return draw(st.sampled_from(domain))


@st.composite
def _nt_rows(draw) -> str:
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        values = [_choice(draw, d) for d in (_IDS, _TAGS, _NUMS, _STRUCTS, _MAPS)]
        rows.append("(" + ", ".join(values) + ")")
    return ", ".join(rows)


@st.composite
def _dim_rows(draw) -> str:
    rows = []
    for _ in range(draw(st.integers(1, 2))):
        k, label, tags = (
            _choice(draw, _IDS),
            _choice(draw, ["'p'", "'q'", "NULL"]),
            _choice(draw, _TAGS),
        )
        rows.append(f"({k}, {label}, {tags})")
    return ", ".join(rows)


_UPDATES = [
    "tags = {tags}",
    "nums = list_append(nums, 3)",
    "s = {s}",
    "m = {m}",
    "id = id + 1",
    "s = {{'a': id, 'b': 'z'}}",
]
_WHERES = [
    "id = {id}",
    "tags = {tags}",
    "s.a = 1",
    "s = {s}",
    "m = {m}",
    "len(nums) > 1",
    "true",
]


@st.composite
def _filled(draw, template: str) -> str:
    domains = {"id": _IDS, "tags": _TAGS, "nums": _NUMS, "s": _STRUCTS, "m": _MAPS}
    return template.format(**{name: _choice(draw, d) for name, d in domains.items()})


@st.composite
def nested_changes(draw) -> str:
    """One statement: inserts into either table, updates and deletes of nt."""
    kind = draw(st.sampled_from(["insert", "insert", "dim", "update", "delete"]))
    if kind == "insert":
        return f"INSERT INTO nt VALUES {draw(_nt_rows())}"
    if kind == "dim":
        return f"INSERT INTO dim VALUES {draw(_dim_rows())}"
    where = draw(_filled(draw(st.sampled_from(_WHERES))))
    if kind == "update":
        assignment = draw(_filled(draw(st.sampled_from(_UPDATES))))
        return f"UPDATE nt SET {assignment} WHERE {where}"
    return f"DELETE FROM nt WHERE {where}"


@st.composite
def nested_scenarios(draw) -> tuple[list[str], int]:
    """Statements (first an insert into each table), and when the view is created."""
    statements = [f"INSERT INTO nt VALUES {draw(_nt_rows())}"]
    statements.append(f"INSERT INTO dim VALUES {draw(_dim_rows())}")
    statements += draw(st.lists(nested_changes(), min_size=1, max_size=8))
    return statements, draw(st.integers(0, len(statements)))
