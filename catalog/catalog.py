"""The catalog: named objects and the dependencies between them."""

from __future__ import annotations

from collections.abc import Iterable

from tidal.catalog.objects import Function, Relation, Sink, SystemRelation
from tidal.catalog.sqlstate import (
    DEPENDENT_OBJECTS_STILL_EXIST,
    DUPLICATE_TABLE,
    FEATURE_NOT_SUPPORTED,
    UNDEFINED_TABLE,
    WRONG_OBJECT_TYPE,
    TidalError,
)
from tidal.catalog.users import Users

CatalogObject = Relation | Sink | Function


class CatalogError(TidalError):
    """A name that does not exist, exists already, or cannot be dropped."""

    sqlstate = UNDEFINED_TABLE


class Catalog:
    """Names are case-insensitive (stored lower-case), as unquoted names are in PostgreSQL.

    >>> from tidal.catalog.objects import Table, Column
    >>> c = Catalog(); c.add(Table("t", (Column("a", "INTEGER"),)))
    >>> c.get("T").column_names()
    ['a']
    """

    def __init__(self) -> None:
        self._objects: dict[str, CatalogObject] = {}
        self.users = Users()  # who may log in to `tidal serve`: a namespace of its own
        self.version = 0  # counts changes of the objects (add, remove): cached plans check it
        # read-only relations computed when read (tidal.engine.system_relations): their names
        # are taken, nothing may be built on them
        self._system: dict[str, SystemRelation] = {}

    def add_system(self, relation: SystemRelation) -> None:
        """Make a system relation readable by its name (found by ``get``, not in ``objects``)."""
        self._system[relation.name.lower()] = relation

    def system_relations(self) -> list[SystemRelation]:
        return list(self._system.values())

    def is_system(self, name: str) -> bool:
        return name.lower() in self._system

    def add(self, obj: CatalogObject, replace: bool = False) -> None:
        key = obj.name.lower()
        self._refuse_system(obj)
        if key in self._objects and not replace:
            existing = self._objects[key]
            raise CatalogError(
                f"{existing.kind} {obj.name!r} already exists: choose another name or DROP it first",
                DUPLICATE_TABLE,
            )
        self._objects[key] = obj
        self.version += 1

    def _refuse_system(self, obj: CatalogObject) -> None:
        if obj.name.lower() in self._system:
            raise CatalogError(
                f"{obj.name!r} is a system relation of tidal (read-only): choose another name",
                DUPLICATE_TABLE,
            )

    def refuse_maintaining(self, names: Iterable[str], what: str) -> None:
        """Refuse ``what`` (a materialized view, a sink) if it reads a system relation among
        ``names``: it would have to be maintained. A plain view may (it is run when read)."""
        used = [name for name in names if name.lower() in self._system]
        if used:
            raise CatalogError(
                f"{what} cannot read system relation {used[0]!r}: system relations are "
                "computed when read, not maintained; query them directly",
                FEATURE_NOT_SUPPORTED,
            )

    def get(self, name: str) -> CatalogObject:
        obj = self._objects.get(name.lower()) or self._system.get(name.lower())
        if obj is None:
            raise CatalogError(self._unknown(name))
        return obj

    def relation(self, name: str) -> Relation:
        obj = self.get(name)
        if not isinstance(obj, Relation):
            raise CatalogError(
                f"{obj.kind} {name!r} cannot be read from: it is not a table, source or view",
                WRONG_OBJECT_TYPE,
            )
        return obj

    def find(self, name: str) -> CatalogObject | None:
        return self._objects.get(name.lower())

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._objects

    def objects(self, kind: str | None = None) -> list[CatalogObject]:
        return [o for o in self._objects.values() if kind is None or o.kind == kind]

    def dependents(self, name: str) -> list[CatalogObject]:
        """Objects that read ``name`` directly."""
        key = name.lower()
        return [o for o in self._objects.values() if key in (d.lower() for d in o.depends_on())]

    def drop_order(self, name: str, cascade: bool) -> list[CatalogObject]:
        """What a DROP removes, dependents first; refused if others depend, unless cascade."""
        target = self.get(name)
        direct = self.dependents(name)
        if direct and not cascade:
            names = ", ".join(f"{o.kind} {o.name}" for o in direct)
            raise CatalogError(
                f"cannot drop {target.kind} {target.name!r}: {names} depend(s) on it; "
                "drop those first or use DROP ... CASCADE",
                DEPENDENT_OBJECTS_STILL_EXIST,
            )
        order: list[CatalogObject] = []
        for dependent in direct:
            for obj in self.drop_order(dependent.name, cascade=True):
                if obj not in order:
                    order.append(obj)
        order.append(target)
        return order

    def remove(self, name: str) -> None:
        self._objects.pop(name.lower(), None)
        self.version += 1

    def _unknown(self, name: str) -> str:
        import difflib

        close = difflib.get_close_matches(name.lower(), list(self._objects), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown relation {name!r}{hint}"
