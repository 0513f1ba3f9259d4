"""Seeds crisis types (自然灾害, 人为事故, 法律纠纷, 传播危机, 产品质量事故), severities I–IV,
the playbooks, the escalation rules and the statement approval roles from data/playbooks.toml.
Reversible: removes what it seeded (types and severities only while no crisis uses them)."""
from django.db import migrations


def forward(apps, schema_editor):
    from qingting.crisis import seed

    seed.seed(apps)


def backward(apps, schema_editor):
    from qingting.crisis import seed

    seed.unseed(apps)


class Migration(migrations.Migration):
    dependencies = [("crisis", "0001_crisis_cases_hotspots")]
    operations = [migrations.RunPython(forward, backward)]
