"""Rewrite rules: plain functions ``plan -> plan``, one per module, run in order by ``optimize``.

After each rule the driver checks that the output schema did not change and names the rule
that changed it (as DataFusion's optimizer does).
"""

from __future__ import annotations

from collections.abc import Callable

from tidal.sql.plan import Plan
from tidal.sql.rules.filter_into_join import filter_into_join

Rule = Callable[[Plan], Plan]

RULES: tuple[Rule, ...] = (filter_into_join,)


class RuleError(Exception):
    """A rewrite rule broke the plan it was given."""


def optimize(plan: Plan, rules: tuple[Rule, ...] = RULES) -> Plan:
    for rule in rules:
        rewritten = rule(plan)
        if rewritten.schema != plan.schema:
            raise RuleError(
                f"rule {rule.__name__} changed the output schema from "
                f"{plan.schema} to {rewritten.schema}"
            )
        plan = rewritten
    return plan


def bottom_up(plan: Plan, visit: Callable[[Plan], Plan]) -> Plan:
    """Apply ``visit`` to every node, children first."""
    children = tuple(bottom_up(child, visit) for child in plan.children())
    if children != plan.children():
        plan = plan.with_children(children)
    return visit(plan)
