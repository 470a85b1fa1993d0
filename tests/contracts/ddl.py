"""The DDL reader the contract tests use: ``warehouse_loader.ddl`` (it moved there when
``warehouse-loader migrations new`` came to need it)."""

from warehouse_loader.ddl import DdlColumn, DdlTable, parse

__all__ = ["DdlColumn", "DdlTable", "parse"]
