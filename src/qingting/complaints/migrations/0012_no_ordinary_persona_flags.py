"""Persona flag rows only for difficult-customer types: "ordinary" (triage found none) is said
by the complaint's persona column, which the queue's persona filter reads for it."""
from django.db import migrations

ORDINARY = "ordinary"  # triage_link.ORDINARY_PERSONA, as it was when this migration was written


def drop_ordinary_flags(apps, schema_editor):
    apps.get_model("complaints", "ComplaintFlag").objects.filter(kind="persona", code=ORDINARY).delete()


def restore_ordinary_flags(apps, schema_editor):
    complaint = apps.get_model("complaints", "Complaint")._meta.db_table
    flag = apps.get_model("complaints", "ComplaintFlag")._meta.db_table
    schema_editor.execute(f"INSERT INTO {flag} (complaint_id, kind, code, score) "
                          f"SELECT id, 'persona', %s, 1.0 FROM {complaint} WHERE persona = %s", [ORDINARY, ORDINARY])


class Migration(migrations.Migration):
    dependencies = [("complaints", "0011_partial_contact_and_escalation_indexes")]

    operations = [migrations.RunPython(drop_ordinary_flags, restore_ordinary_flags, elidable=True)]
