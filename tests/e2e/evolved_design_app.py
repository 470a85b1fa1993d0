"""The release that carries ToteSys's new ``design.file_size`` to ``dim_design``, made by
wrapping the production code: the contract is extended at import, as the one edit of
docs/contracts.md (Adding a column) would extend it, before any stage derives anything from it.
Run as processes by ``test_schema_evolution``:

- ``python -m tests.e2e.evolved_design_app``: the record processor (the KCL daemon runs it,
  ``stream-processor run --record-processor``);
- ``python -m tests.e2e.evolved_design_app warehouse-loader ARGS...``: the loader's command
  line (``run-local``, ``migrate``, ``migrations new``, ``backfill``, ``reconcile``).

Beside the contract it carries the release's two other pieces: reconcile's hand-written query
for dim_design with the column (step 3), and the migrations folder with the generated
migration (the package's files, and those of ``$EVOLVED_MIGRATIONS_DIR``, where the test has
``migrations new`` write it instead of the source tree)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from contracts import change_records, star_schema
from contracts.star_schema import INT, Column, From

COLUMN = "file_size"
MIGRATIONS_DIR = "EVOLVED_MIGRATIONS_DIR"
# reconcile's query for dim_design, by hand as step 3 says, with the new column
DESIGN_QUERY = "SELECT design_id, design_name, file_location, file_name, file_size FROM design"


def extend_contract() -> None:
    """Step 1: Contract A's column (source order: appended, as ALTER TABLE appends) and
    dim_design's spec column, last, where the migration's ADD COLUMN puts it."""
    if COLUMN in change_records.SOURCE_TABLES["design"]:
        return
    change_records.SOURCE_TABLES["design"][COLUMN] = change_records.INT
    change_records.NULLABLE["design"] = change_records.NULLABLE.get("design", frozenset()) | {
        COLUMN
    }
    old = star_schema.STAR_SCHEMA["dim_design"]
    new = old.with_column(Column(COLUMN, INT, source=From(COLUMN)), after=old.columns[-1].name)
    star_schema.SPECS = tuple(new if s.name == old.name else s for s in star_schema.SPECS)
    star_schema.STAR_SCHEMA[old.name] = new
    star_schema.HISTORIES[old.name] = star_schema.history_spec(new)
    star_schema.schema_of.cache_clear()


extend_contract()  # before anything below derives from the contract


def _with_generated_migrations() -> None:
    from warehouse_loader import migrations
    from warehouse_tools import reconcile

    reconcile.EXPECTED_SQL["dim_design"] = reconcile.expected_sql("dim_design", DESIGN_QUERY)
    folder = os.environ.get(MIGRATIONS_DIR)
    if not folder:
        return
    shipped = migrations.available

    def available() -> list[migrations.Migration]:
        found = {m.version: m for m in shipped()}
        for path in sorted(Path(folder).glob("*.sql")):
            match = migrations.FILE_PATTERN.match(path.name)
            if match:
                found[int(match[1])] = migrations.Migration(
                    int(match[1]), match[2], path.read_text()
                )
        return [found[v] for v in sorted(found)]

    migrations.available = available


def main(argv: list[str]) -> int:
    if argv[:1] == ["warehouse-loader"]:
        _with_generated_migrations()
        from warehouse_tools import cli

        cli.main(argv[1:], prog_name="warehouse-loader")  # exits
        return 0
    from stream_processor import kcl_app

    return kcl_app.main()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
