"""Seeds the approval limits (agent ≤ ¥500, supervisor ≤ ¥5,000, manager and admin without a
limit) and the starter cases of the case library. Reversible: removes exactly those rows."""
from decimal import Decimal

from django.db import migrations

LIMITS = {"agent": Decimal("500"), "supervisor": Decimal("5000"), "manager": None, "admin": None}


def seed(apps, schema_editor):
    from qingting.resolution.services import seed_starter_cases

    Limit = apps.get_model("resolution", "ApprovalLimit")
    for role, amount in LIMITS.items():
        Limit.objects.get_or_create(role=role, defaults={"max_amount": amount})
    seed_starter_cases(apps)


def unseed(apps, schema_editor):
    from qingting.resolution.catalogue import load_starter_cases

    apps.get_model("resolution", "ApprovalLimit").objects.filter(role__in=list(LIMITS)).delete()
    apps.get_model("resolution", "Case").objects.filter(code__in=[c["code"] for c in load_starter_cases()]).delete()


class Migration(migrations.Migration):
    dependencies = [("resolution", "0001_resolution_plans_followups_cases")]
    operations = [migrations.RunPython(seed, unseed)]
