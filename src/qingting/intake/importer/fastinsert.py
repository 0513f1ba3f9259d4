"""Insert many rows fast, given as tuples in a fixed column order.

PostgreSQL: primary keys come from the table's sequence first (so callers know them),
then COPY. Other databases (SQLite): ids from max(id) — safe because the import runs in
a write transaction (SQLite's IMMEDIATE mode holds the database write lock) — then
executemany. JSON columns take a ready JSON string (`core.fields.dumps_json`), search keys
`search_keys_value`; datetimes are aware datetimes.
"""
from __future__ import annotations

from django.db import connection

from qingting.core.fields import keys_db_value


def search_keys_value(*key_arrays) -> str:
    """Search key arrays (`search_key_array`, or lists of keys) as a `SearchKeysField` column
    takes them: the bigint[] text on PostgreSQL, the space-separated text elsewhere. A key in
    two arrays is kept twice (the index stores it once)."""
    keys = [k for array in key_arrays for k in (array if isinstance(array, list) else array.tolist())]
    return keys_db_value(keys, connection)


def next_ids(model, n: int) -> list[int]:
    if n <= 0:
        return []
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, n])
            return [r[0] for r in cur.fetchall()]
        cur.execute(f"SELECT COALESCE(MAX({pk}), 0) FROM {table}")
        start = cur.fetchone()[0] + 1
        if connection.vendor == "sqlite":
            # keep AUTOINCREMENT-free tables consistent: nothing else to bump
            pass
        return list(range(start, start + n))


def insert_keyed_rows(model, columns: list[str], keyed: list[tuple[int, list[int]]]) -> None:
    """Rows (key, owner_id) of integers, given per owner as (owner_id, [key, …]): the similarity
    bands, 12 rows per complaint. On PostgreSQL the COPY text is built in one piece, one join
    per owner instead of a tuple and a format per row."""
    if connection.vendor != "postgresql":
        insert_rows(model, columns, [(k, owner) for owner, keys in keyed for k in keys])
        return
    parts = []
    for owner, keys in keyed:
        if keys:
            tail = f"\t{int(owner)}\n"
            parts.append(tail.join(map(str, map(int, keys))) + tail)
    if parts:
        with connection.cursor() as cur, cur.cursor.copy(_copy_sql(model, columns)) as copy:
            copy.write("".join(parts))


def _copy_sql(model, columns: list[str]) -> str:
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    return f"COPY {connection.ops.quote_name(model._meta.db_table)} ({quoted}) FROM STDIN"


def insert_rows(model, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            with cur.cursor.copy(_copy_sql(model, columns)) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        table = model._meta.db_table
        quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
        adapt = connection.ops.adapt_datetimefield_value
        import datetime as dt

        fixed = [tuple(adapt(v) if isinstance(v, dt.datetime) else v for v in row) for row in rows]
        marks = ", ".join(["%s"] * len(columns))
        cur.executemany(f"INSERT INTO {connection.ops.quote_name(table)} ({quoted}) VALUES ({marks})", fixed)
