"""Helpers of the reconcile, repair and backfill tests: reconcile and repair run on two DSNs."""

from __future__ import annotations

import psycopg

from warehouse_tools import reconcile, repair


def differences(source: str, warehouse: str) -> int:
    with psycopg.connect(source) as s, psycopg.connect(warehouse) as w:
        return reconcile.reconcile(s, w).differences


def run_repair(source: str, warehouse: str, **kwargs) -> repair.RepairReport:
    with psycopg.connect(source) as s, psycopg.connect(warehouse, autocommit=True) as w:
        return repair.repair(s, w, **kwargs)
