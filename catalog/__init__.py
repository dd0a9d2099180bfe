"""What exists: tables, sources, views, sinks, their columns and types, and who depends on whom."""

from tidal.catalog import types
from tidal.catalog.catalog import Catalog, CatalogError
from tidal.catalog.objects import Column, Relation, Sink, Source, Table, View

__all__ = [
    "Catalog",
    "CatalogError",
    "Column",
    "Relation",
    "Sink",
    "Source",
    "Table",
    "View",
    "types",
]
