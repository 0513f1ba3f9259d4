"""PostgreSQL only: a GIN index for text search over the bigram document, and a trigger
that makes the timeline append-only at the database level. No-op on SQLite."""
from django.db import migrations

SEARCH_INDEX = ("CREATE INDEX IF NOT EXISTS complaint_search_gin ON complaints_complaint "
                "USING gin (to_tsvector('simple', search_text))")
TRIGGER = """
CREATE OR REPLACE FUNCTION qingting_event_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'complaints_event is append-only';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS event_append_only ON complaints_event;
CREATE TRIGGER event_append_only BEFORE UPDATE OR DELETE ON complaints_event
  FOR EACH ROW EXECUTE FUNCTION qingting_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(SEARCH_INDEX)
    schema_editor.execute(TRIGGER)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS complaint_search_gin")
    schema_editor.execute("DROP TRIGGER IF EXISTS event_append_only ON complaints_event")
    schema_editor.execute("DROP FUNCTION IF EXISTS qingting_event_append_only()")


class Migration(migrations.Migration):
    dependencies = [("complaints", "0002_seed_defaults")]
    operations = [migrations.RunPython(forwards, backwards)]
