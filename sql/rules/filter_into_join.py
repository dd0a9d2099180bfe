"""Filters over inner joins become join keys and side filters.

``FROM a, b WHERE a.x = b.y AND a.z > 1`` binds as a filter over a join without keys (a cross
product, which an incremental engine must recompute whole); this rule turns the equality into
a join key and pushes ``a.z > 1`` into ``a``, exactly as if the query had said
``FROM a JOIN b ON a.x = b.y WHERE a.z > 1``; through any number of comma joins.
"""

from __future__ import annotations

from tidal.sql.joins import key_condition, make_join
from tidal.sql.plan import Filter, Join, Plan, bottom_up, conjunction, conjuncts
from tidal.sql.typeinfer import TypeInference


def filter_into_join(plan: Plan, infer: TypeInference) -> Plan:
    return bottom_up(plan, lambda node: _merge(node, infer))


def _merge(node: Plan, infer: TypeInference) -> Plan:
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
    merged = make_join(join.left, join.right, "inner", condition, infer)
    if merged.schema != node.schema:
        return node
    # The conditions pushed into a side may meet a join there: FROM a, b, c WHERE a.x = b.x
    # AND b.y = c.y puts a.x = b.x over the cross join of a and b.
    return merged.with_children(tuple(filter_into_join(c, infer) for c in merged.children()))
