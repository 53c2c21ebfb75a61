# The audit log now belongs to the portal app (portal/migrations/0002_auditevent.py), which keeps
# this app's table. State only: no table is dropped.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('documents', '0003_outline_snapshot'),
        ('portal', '0002_auditevent'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='AuditEvent')],
            database_operations=[],
        ),
    ]
