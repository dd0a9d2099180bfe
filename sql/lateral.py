"""FROM items that read the items to their left: set-returning calls over each row (``FROM t,
generate_series(1, t.n)``, ``CROSS JOIN LATERAL unnest(...)``) and LATERAL subqueries. A mixin
of the Binder (tidal.sql.binder), like FromClause.

A set-returning call joined to the FROM items before it (with or without LATERAL, as in
PostgreSQL) is an Unnest over their rows (tidal.sql.table_functions), in an inner or cross join
or in ``LEFT JOIN LATERAL ... ON true``. LATERAL subqueries: see tidal.sql.lateral_subqueries.
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot import exp

from tidal.catalog.sqlstate import UNDEFINED_TABLE
from tidal.sql.clauses import Binds
from tidal.sql.errors import SqlError, unsupported
from tidal.sql.lateral_subqueries import join_lateral_subquery
from tidal.sql.plan import Filter, Plan, Values
from tidal.sql.scope import Frame, Scope
from tidal.sql.table_functions import from_function, unnest_rows


class LateralJoins:
    BINDS: ClassVar[Binds] = {
        exp.Table: ("ordinality",),
        exp.Unnest: ("expressions", "alias", "offset"),
        exp.Lateral: ("this", "alias", "ordinality"),
    }

    def function_relation(
        self, node: exp.Expression, ctes: dict, outer: Scope | None
    ) -> tuple[Plan, Scope] | None:
        """A FROM item that is a set-returning call, alone (None if it is not one); a LATERAL
        subquery with nothing to its left is a plain subquery."""
        if isinstance(node, exp.Lateral) and isinstance(node.this, exp.Subquery):
            subquery = node.this.copy()
            subquery.set("alias", node.args.get("alias"))
            return self.relation(subquery, ctes, outer)  # type: ignore[attr-defined]
        function = from_function(node)
        if function is None:
            return None
        unit = Frame(Values(((),), ()), Scope([], outer), ctes)
        try:
            plan, columns = unnest_rows(self, function, unit)
        except SqlError as error:
            if error.sqlstate != UNDEFINED_TABLE:
                raise
            raise unsupported(
                f"{function.name}() in FROM reading a column that is not a FROM item before it "
                f"in the same FROM ({error.message})"
            ) from None
        return plan, Scope(columns, outer)

    def lateral_join(self, join: exp.Join, frame: Frame) -> bool:
        """Join ``frame`` to a set-returning call or LATERAL subquery over its rows; False if
        ``join`` is an ordinary join (a call reading no column in a RIGHT or FULL join too)."""
        node = join.this
        if isinstance(node, exp.Lateral) and isinstance(node.this, exp.Subquery):
            join_lateral_subquery(self, node, join, frame)
            return True
        function = from_function(node)
        if function is None:
            return False
        kind = _kind(join)
        on = join.args.get("on")
        on_true = on is None or (isinstance(on, exp.Boolean) and on.this)
        if kind not in ("inner", "left") or (kind == "left" and not on_true):
            if function.reads_columns() or isinstance(node, exp.Lateral):
                raise unsupported(
                    f"{kind.upper()} JOIN LATERAL {function.name}(...) ON a condition: a "
                    "set-returning call joins to the rows before it with a comma, CROSS JOIN, "
                    "[INNER] JOIN or LEFT JOIN ... ON true"
                )
            return False
        plan, columns = unnest_rows(self, function, frame, keep_unmatched=kind == "left")
        frame.plan = plan
        frame.scope = frame.scope.concat(Scope(columns))
        if kind == "inner" and not on_true:
            condition = self.expression(on, frame)  # type: ignore[attr-defined]
            self._check_boolean(condition, frame.plan.schema, "JOIN ... ON")  # type: ignore[attr-defined]
            frame.plan = Filter(frame.plan, condition)
        return True


def _kind(join: exp.Join) -> str:
    """inner (a comma, CROSS or INNER JOIN), left, right or full; NATURAL and USING refused."""
    if join.args.get("method") or join.args.get("using"):
        raise unsupported(f"{join.sql()[:60]}: NATURAL or USING with a set-returning call")
    if (join.args.get("kind") or "").lower() in ("semi", "anti"):
        raise unsupported(f"{join.args['kind'].upper()} JOIN with a set-returning call")
    side = (join.args.get("side") or "").lower()
    return side if side in ("left", "right", "full") else "inner"
