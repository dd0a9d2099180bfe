"""Changing what exists: CREATE OR REPLACE VIEW and the ALTER statements.

A change is checked whole before anything moves, and applied all or nothing. Views that read a
changed relation must keep meaning what they meant: a change that would alter the columns they
read is refused (2BP01) naming them, as is a change under a sink (it has written rows already).
Materialized views downstream of a replaced view are recompiled from their definitions and
backfilled again, so each holds what its query answers over the new definition.
"""

from __future__ import annotations

from sqlglot import exp

from tidal.catalog import Catalog
from tidal.catalog.objects import Sink, View
from tidal.catalog.sqlstate import (
    DEPENDENT_OBJECTS_STILL_EXIST,
    INVALID_OBJECT_DEFINITION,
    WRONG_OBJECT_TYPE,
)
from tidal.engine.relations import Relations
from tidal.engine.subscriptions import Feeds
from tidal.sql.compiler import Compiler
from tidal.sql.errors import SqlError
from tidal.sql.parser import parse_statement
from tidal.sql.plan import Plan


class SchemaChanges:
    """CREATE OR REPLACE VIEW and ALTER, over the catalog and the relation registry (hold the
    engine's lock)."""

    def __init__(self, compiler: Compiler, relations: Relations, feeds: Feeds) -> None:
        self.compiler = compiler
        self.catalog: Catalog = compiler.catalog
        self.relations = relations
        self.feeds = feeds

    # --- CREATE OR REPLACE VIEW ---------------------------------------------------------------------

    def replace_view(self, create: exp.Create, old: View, materialized: bool) -> str:
        """Replace view ``old`` by ``create``'s query (same kind, no cycle, and the same
        columns while others read it); the view and what reads it are backfilled anew."""
        kind = "MATERIALIZED VIEW" if materialized else "VIEW"
        if old.materialized != materialized:
            raise SqlError(
                f"{old.name!r} is a {old.kind}: use CREATE OR REPLACE {old.kind.upper()}",
                sqlstate=WRONG_OBJECT_TYPE,
            )
        view, plan = self.compiler.view(create, old.name, materialized)
        downstream = self.downstream(old.name)
        reads_itself = [n for n in view.inputs if n.lower() in _names([old, *downstream])]
        if reads_itself:
            raise SqlError(
                f"view {old.name!r} cannot read {reads_itself[0]!r}, which reads {old.name!r}",
                sqlstate=INVALID_OBJECT_DEFINITION,
            )
        if downstream and _shape(view) != _shape(old):
            raise _dependents_error(
                f"cannot change the columns of {old.kind} {old.name!r}", downstream
            )
        _refuse_sinks(old, downstream)
        self._install([view], downstream, {old.name.lower(): plan})
        return f"CREATE {kind}"

    # --- shared ------------------------------------------------------------------------------------

    def downstream(self, name: str) -> list[View | Sink]:
        """What reads ``name``, directly or through others, in creation order."""
        found: set[str] = set()
        pending = [name]
        while pending:
            for obj in self.catalog.dependents(pending.pop()):
                if obj.name.lower() not in found:
                    found.add(obj.name.lower())
                    pending.append(obj.name)
        return [o for o in self.catalog.objects() if o.name.lower() in found]

    def _install(
        self, changed: list, downstream: list[View | Sink], plans: dict[str, Plan]
    ) -> None:
        """Put the ``changed`` catalog objects in place (with ``plans`` for materialized views
        among them) and rebuild the materialized views of ``downstream``: compiled and
        backfilled anew. On an error everything is as it was."""
        before = {o.name.lower(): self.catalog.find(o.name) for o in changed}
        try:
            for obj in changed:
                self.catalog.add(obj, replace=True)
            rebuilt = []
            for obj in [*changed, *downstream]:
                if isinstance(obj, View) and obj.materialized:
                    plan = plans.get(obj.name.lower()) or self._recompiled(obj)
                    rebuilt.append((obj, plan))
            self.relations.rebuild_views(rebuilt)
        except BaseException:
            for key, obj in before.items():
                if obj is None:
                    self.catalog.remove(key)
                else:
                    self.catalog.add(obj, replace=True)
            raise
        for view, _ in rebuilt:
            self.feeds.end(view.name.lower(), f"relation {view.name} was redefined")

    def _recompiled(self, view: View) -> Plan:
        """A materialized view's plan compiled again from its definition."""
        compiled = self.compiler.query(parse_statement(view.definition), ad_hoc=False)
        if [(f.name, f.type) for f in compiled.plan.schema] != _shape(view):
            raise _dependents_error("the columns of a view that reads it would change", [view])
        return compiled.plan


def _names(objects: list) -> set[str]:
    return {o.name.lower() for o in objects}


def _shape(view: View) -> list[tuple[str, str]]:
    return [(c.name, c.type) for c in view.columns]


def _refuse_sinks(changed, downstream: list) -> None:
    sinks = [o for o in downstream if isinstance(o, Sink)]
    if sinks:
        raise _dependents_error(
            f"cannot change {changed.kind} {changed.name!r} under a sink, which has written "
            "its rows already",
            sinks,
        )


def _dependents_error(what: str, dependents: list) -> SqlError:
    names = ", ".join(f"{o.kind} {o.name}" for o in dependents)
    return SqlError(
        f"{what}: {names} depend(s) on it; drop those first (DROP ... CASCADE)",
        sqlstate=DEPENDENT_OBJECTS_STILL_EXIST,
    )
