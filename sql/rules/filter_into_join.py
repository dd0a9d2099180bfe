"""Filters over inner joins become join keys and side filters.

``FROM a, b WHERE a.x = b.y AND a.z > 1`` binds as a filter over a join without keys (a cross
product, which an incremental engine must recompute whole); this rule turns the equality into
a join key and pushes ``a.z > 1`` into ``a``, exactly as if the query had said
``FROM a JOIN b ON a.x = b.y WHERE a.z > 1``.
"""

from __future__ import annotations

from tidal.sql.joins import key_condition, make_join
from tidal.sql.plan import Filter, Join, Plan, conjunction, conjuncts


def filter_into_join(plan: Plan) -> Plan:
    from tidal.sql.rules import bottom_up

    return bottom_up(plan, _merge)


def _merge(node: Plan) -> Plan:
    if not (
        isinstance(node, Filter) and isinstance(node.input, Join) and node.input.kind == "inner"
    ):
        return node
    join = node.input
    if len(join.schema) != len(join.left.schema) + len(join.right.schema):
        return node  # a join whose key columns were projected: leave it alone
    condition = conjunction(
        conjuncts(key_condition(join)) + conjuncts(join.condition) + conjuncts(node.predicate)
    )
    merged = make_join(join.left, join.right, "inner", condition, _inference())
    return merged if merged.schema == node.schema else node


_SHARED = None


def _inference():
    global _SHARED
    if _SHARED is None:
        from tidal.sql.typeinfer import TypeInference

        _SHARED = TypeInference()
    return _SHARED
