"""Rewrite rules: plain functions ``plan -> plan``, one per module, run in order by ``optimize``.

A rule asks for what it needs by its parameters' names, as sqlglot's optimizer rules do: the
driver passes ``infer`` (the compiler's TypeInference) to a rule that takes it. After each rule
the driver checks that the output schema did not change and names the rule that changed it (as
DataFusion's optimizer does).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from tidal.catalog.sqlstate import INTERNAL_ERROR, TidalError
from tidal.sql.plan import Plan
from tidal.sql.rules.filter_into_join import filter_into_join
from tidal.sql.typeinfer import TypeInference

Rule = Callable[..., Plan]

RULES: tuple[Rule, ...] = (filter_into_join,)


class RuleError(TidalError):
    """A rewrite rule broke the plan it was given (a bug in the rule)."""

    sqlstate = INTERNAL_ERROR


def optimize(plan: Plan, infer: TypeInference, rules: tuple[Rule, ...] = RULES) -> Plan:
    available = {"infer": infer}
    for rule in rules:
        wanted = inspect.signature(rule).parameters
        rewritten = rule(plan, **{k: v for k, v in available.items() if k in wanted})
        if rewritten.schema != plan.schema:
            raise RuleError(
                f"rule {rule.__name__} changed the output schema from "
                f"{plan.schema} to {rewritten.schema}"
            )
        plan = rewritten
    return plan
