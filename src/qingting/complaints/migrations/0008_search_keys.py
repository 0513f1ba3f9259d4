"""The search index keeps int64 keys instead of text: `search_keys` (bigint[] under a GIN
index on PostgreSQL) replaces `search_text` (its tsvector index). Inserting a complaint into
the GIN index costs about half as much with integer keys (bulk import), and look-ups compare
integers. Existing rows get their keys from their search text (the same tokens)."""

from django.db import migrations

import qingting.core.fields
from qingting.core.fields import keys_as_array, keys_as_text
from qingting.core.text import search_tokens, token_key

BATCH = 5000
OLD_INDEX = ("CREATE INDEX IF NOT EXISTS complaint_search_gin ON complaints_complaint "
             "USING gin (to_tsvector('simple', search_text))")
NEW_INDEX = "CREATE INDEX IF NOT EXISTS complaint_search_keys_gin ON complaints_complaint USING gin (search_keys)"


def _batches(cur, columns: str):
    last = 0
    while True:
        cur.execute(f"SELECT id, {columns} FROM complaints_complaint WHERE id > %s ORDER BY id LIMIT {BATCH}", [last])
        rows = cur.fetchall()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def keys_from_text(apps, schema_editor):
    conn = schema_editor.connection
    with conn.cursor() as read, conn.cursor() as write:
        for rows in _batches(read, "search_text"):
            keys = [(pk, sorted({token_key(t) for t in (text or "").split()})) for pk, text in rows]
            if conn.vendor == "postgresql":
                write.execute("UPDATE complaints_complaint c SET search_keys = v.k::bigint[] "
                              "FROM unnest(%s::bigint[], %s::text[]) AS v(id, k) WHERE c.id = v.id",
                              [[pk for pk, _ in keys], [keys_as_array(k) for _, k in keys]])
            else:
                write.executemany("UPDATE complaints_complaint SET search_keys = %s WHERE id = %s",
                                  [(keys_as_text(k), pk) for pk, k in keys])


def text_from_columns(apps, schema_editor):
    conn = schema_editor.connection
    columns = ("number, subject, description, (SELECT name FROM complaints_customer cu "
               "WHERE cu.id = complaints_complaint.customer_id)")
    with conn.cursor() as read, conn.cursor() as write:
        for rows in _batches(read, columns):
            write.executemany("UPDATE complaints_complaint SET search_text = %s WHERE id = %s",
                              [(" ".join(dict.fromkeys(t for part in parts for t in search_tokens(part or ""))), pk)
                               for pk, *parts in rows])


def swap_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS complaint_search_gin")
        schema_editor.execute(NEW_INDEX)


def swap_index_back(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS complaint_search_keys_gin")
        schema_editor.execute(OLD_INDEX)


class Migration(migrations.Migration):

    dependencies = [
        ('complaints', '0007_unique_codes_lz4'),
    ]

    operations = [
        migrations.AddField(
            model_name='complaint',
            name='search_keys',
            field=qingting.core.fields.SearchKeysField(),
        ),
        migrations.RunPython(keys_from_text, text_from_columns),
        migrations.RunPython(swap_index, swap_index_back),
        migrations.RemoveField(
            model_name='complaint',
            name='search_text',
        ),
    ]
