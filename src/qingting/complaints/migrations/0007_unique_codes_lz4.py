"""Numbers and tracking codes unique by constraints (no unused LIKE-pattern indexes), and
LZ4 instead of pglz for the large columns of a complaint on PostgreSQL.

The triage snapshot (≈ 3.5 kB of JSON) makes most complaint rows large enough to be
compressed; pglz was about a tenth of the server's cost of inserting a complaint (bulk
import), LZ4 several times cheaper. It applies to rows written from now on; a server
built without LZ4 keeps pglz.
"""

from django.conf import settings
from django.db import migrations, models

LARGE_COLUMNS = ("triage", "description", "search_text")


def use_lz4(apps, schema_editor):
    conn = schema_editor.connection
    if conn.vendor != "postgresql":
        return
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        if cur.fetchone() is None:
            return
        columns = ", ".join(f"ALTER COLUMN {c} SET COMPRESSION lz4" for c in LARGE_COLUMNS)
        cur.execute(f"ALTER TABLE complaints_complaint {columns}")


def use_default(apps, schema_editor):
    conn = schema_editor.connection
    if conn.vendor == "postgresql":
        columns = ", ".join(f"ALTER COLUMN {c} SET COMPRESSION DEFAULT" for c in LARGE_COLUMNS)
        with conn.cursor() as cur:
            cur.execute(f"ALTER TABLE complaints_complaint {columns}")


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('complaints', '0006_lean_indexes'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='complaint',
            name='number',
            field=models.CharField(max_length=32, verbose_name='投诉编号'),
        ),
        migrations.AlterField(
            model_name='complaint',
            name='tracking_code',
            field=models.CharField(max_length=32, verbose_name='查询码'),
        ),
        migrations.AddConstraint(
            model_name='complaint',
            constraint=models.UniqueConstraint(fields=('number',), name='complaint_number_unique'),
        ),
        migrations.AddConstraint(
            model_name='complaint',
            constraint=models.UniqueConstraint(fields=('tracking_code',), name='complaint_tracking_code_unique'),
        ),
        migrations.RunPython(use_lz4, use_default),
    ]
