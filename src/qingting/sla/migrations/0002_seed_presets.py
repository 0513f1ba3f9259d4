"""Seeds the business calendars and SLA policies (targets, extension rules) shipped in
qingting/sla/presets.toml: 银行保险, 市场监管 12315, 12345 热线, 企业通用. Reversible:
going back removes exactly those policies and the calendars no other policy uses."""
from django.db import migrations


def seed(apps, schema_editor):
    from qingting.sla.config import seed_presets

    seed_presets(apps)


def unseed(apps, schema_editor):
    from qingting.sla.config import unseed_presets

    unseed_presets(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("sla", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
