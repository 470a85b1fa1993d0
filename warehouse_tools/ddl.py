"""A reader of this project's own DDL (the warehouse migrations, the ToteSys source schema):
tables, their columns in order with type, nullability and reference, and their keys. No
database needed. It understands the statements these files use and refuses any other
``ALTER TABLE``, so a migration it cannot read fails the contract tests instead of slipping by.

The contract tests read the migrations with it (``tests/contracts/test_star_schema_ddl.py``),
and so does ``warehouse-loader migrations new`` (``warehouse_tools.evolve``), to know the
schema the existing migrations make; ``tests/contracts/test_star_schema_on_postgres.py``
checks the same specs against a migrated database, without this reader."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_KEYWORDS = {"NOT", "NULL", "PRIMARY", "REFERENCES", "CHECK", "DEFAULT", "UNIQUE", "GENERATED"}


@dataclass
class DdlColumn:
    name: str
    type: str  # normalised: lower case, single spaces, "numeric(38,0)"
    nullable: bool = True
    references: str | None = None

    @property
    def length(self) -> int | None:
        """The n of a ``varchar(n)`` / ``char(n)`` column (None for any other type)."""
        found = re.fullmatch(r"(?:varchar|char|character)\((\d+)\)", self.type)
        return int(found[1]) if found else None


@dataclass
class DdlTable:
    name: str
    columns: list[DdlColumn] = field(default_factory=list)
    primary_key: tuple[str, ...] = ()
    unique: list[tuple[str, ...]] = field(default_factory=list)

    def column(self, name: str) -> DdlColumn:
        return next(c for c in self.columns if c.name == name)


def _unquote(name: str) -> str:
    return name.strip().strip('"')


def _split_top_level(body: str) -> list[str]:
    parts, depth, current = [], 0, []
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _names(text: str) -> tuple[str, ...]:
    return tuple(_unquote(n) for n in text.strip().strip("()").split(","))


def _column(definition: str) -> tuple[DdlColumn, bool]:
    """A column definition → (column, is primary key)."""
    name, rest = definition.split(None, 1)
    words = re.findall(r"\w+(?:\s*\([^)]*\))?|\S", rest)
    type_words = []
    for word in words:
        if word.upper() in _KEYWORDS:
            break
        type_words.append(word)
    type_text = re.sub(r"\s+", "", " ".join(type_words).lower()).replace("precision", " precision")
    upper = rest.upper()
    primary = "PRIMARY KEY" in upper
    found = re.search(r"REFERENCES\s+(\"?\w+\"?)", rest, re.IGNORECASE)
    column = DdlColumn(
        _unquote(name),
        type_text,
        nullable=not ("NOT NULL" in upper or primary),
        references=_unquote(found[1]) if found else None,
    )
    return column, primary


def parse(*sql_texts: str) -> dict[str, DdlTable]:
    """The tables the statements of ``sql_texts`` (applied in order) leave behind."""
    tables: dict[str, DdlTable] = {}
    for text in sql_texts:
        text = re.sub(r"--[^\n]*", "", text)
        for statement in (s.strip() for s in text.split(";")):
            if not statement:
                continue
            create = re.match(r"CREATE TABLE\s+(\"?\w+\"?)\s*\((.*)\)\s*$", statement, re.S | re.I)
            alter = re.match(r"ALTER TABLE\s+(\"?\w+\"?)\s+(.*)$", statement, re.S | re.I)
            if create:
                table = DdlTable(_unquote(create[1]))
                for part in _split_top_level(create[2]):
                    head = part.split(None, 1)[0].upper()
                    if head == "UNIQUE":
                        table.unique.append(_names(part[len("UNIQUE") :]))
                    elif head == "PRIMARY":
                        table.primary_key = _names(part.split("KEY", 1)[1])
                    elif head in ("CHECK", "CONSTRAINT", "FOREIGN"):
                        raise ValueError(f"{table.name}: table constraint not understood: {part}")
                    else:
                        column, primary = _column(part)
                        table.columns.append(column)
                        if primary:
                            table.primary_key = (column.name,)
                tables[table.name] = table
            elif alter:
                action = alter[2].strip()
                if _unquote(alter[1]) not in tables:
                    raise ValueError(f"ALTER TABLE of a table not created: {statement}")
                table = tables[_unquote(alter[1])]
                if re.match(r"ALTER COLUMN \w+ SET DEFAULT ", action, re.I):
                    continue  # defaults are not part of the contract
                added = re.match(r"ADD COLUMN (.*)$", action, re.S | re.I)
                key = re.match(r"ADD PRIMARY KEY\s*(\(.*\))$", action, re.S | re.I)
                if added:
                    table.columns.append(_column(added[1])[0])
                elif key:
                    table.primary_key = _names(key[1])
                elif re.match(rf"DROP CONSTRAINT {table.name}_pkey$", action, re.I):
                    table.primary_key = ()
                elif re.match(
                    r"(DROP CONSTRAINT \w+_check|ADD CONSTRAINT \w+\s+CHECK\s)", action, re.I
                ):
                    continue  # CHECK constraints are not part of the contract
                else:
                    raise ValueError(f"ALTER TABLE not understood: {statement}")
            elif not re.match(
                r"(CREATE (TYPE|INDEX|UNIQUE INDEX|VIEW)|DROP VIEW|INSERT INTO)\b", statement, re.I
            ):  # views and the rows a migration seeds are not table shapes
                raise ValueError(f"statement not understood: {statement[:80]}")
    return tables
