# Partial indexes: customers by non-empty mobile and e-mail (no LIKE-pattern twins), complaints
# by the person they were escalated to only when they were. Fewer index entries per insert.

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('complaints', '0010_triage_as_json_text'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='complaint',
            name='complaint_escalated_recent',
        ),
        migrations.AlterField(
            model_name='customer',
            name='email',
            field=models.CharField(blank=True, max_length=254, verbose_name='邮箱'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='mobile',
            field=models.CharField(blank=True, max_length=32, verbose_name='手机'),
        ),
        migrations.AddIndex(
            model_name='complaint',
            index=models.Index(condition=models.Q(('escalated_to__isnull', False)), fields=['escalated_to', '-received_at'], name='complaint_escalated_recent'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('mobile', ''), _negated=True), fields=['mobile'], name='customer_mobile'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(condition=models.Q(('email', ''), _negated=True), fields=['email'], name='customer_email'),
        ),
    ]
