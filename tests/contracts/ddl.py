"""The DDL reader the contract tests use: ``warehouse_tools.ddl``, beside
``warehouse-loader migrations new``, which needs it too."""

from warehouse_tools.ddl import DdlColumn, DdlTable, parse

__all__ = ["DdlColumn", "DdlTable", "parse"]
