# The audit log moves from the documents app to the portal (the site shell that both apps use).
# State only: the table stays where it is (documents_auditevent, named by Meta.db_table).

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('portal', '0001_initial'),
        ('documents', '0003_outline_snapshot'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='AuditEvent',
                    # The model's fields as they stand today (documents 0001 and 0002 made them).
                    fields=[
                        ('id', models.BigAutoField(primary_key=True, serialize=False)),
                        ('organization', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='audit_events', to='portal.organization')),
                        ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, to=settings.AUTH_USER_MODEL)),
                        ('action', models.CharField(db_index=True, max_length=40)),
                        ('object_type', models.CharField(max_length=40)),
                        ('object_id', models.CharField(max_length=500)),
                        ('details', models.JSONField(blank=True, default=dict)),
                        ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                    ],
                    options={
                        'ordering': ['-created_at', '-id'],
                        'db_table': 'documents_auditevent',
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
