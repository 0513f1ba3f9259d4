"""Seeds the default 8-step workflow, the bank 7-step variant, industry profiles and the
two-level taxonomy from complaints/data/defaults.toml. Reversible."""
from django.db import migrations


def seed(apps, schema_editor):
    from qingting.complaints.workflow import seed_defaults

    seed_defaults(apps)


def unseed(apps, schema_editor):
    from qingting.complaints.workflow import unseed_defaults

    unseed_defaults(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
