"""AuditEntry and ApiToken move here from the tasks app: their tables (created by tasks 0004 and 0005)
stay as they are, only Django's idea of which app owns them changes (tasks 0007 forgets them there).

Their content types move with them, so the permissions granted on them (and admin log entries) keep
pointing at them. On a new database there are none yet: Django creates them after migrating.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED = ("auditentry", "apitoken")


def move_content_types(from_label, to_label):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        types = ContentType.objects.using(schema_editor.connection.alias)
        already = list(types.filter(app_label=to_label, model__in=MOVED).values_list("model", flat=True))
        types.filter(app_label=from_label, model__in=MOVED).exclude(model__in=already).update(app_label=to_label)
        ContentType.objects.clear_cache()

    return move


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("tasks", "0006_task_number"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ("user", models.CharField(blank=True, help_text="Empty for a request without credentials.", max_length=150)),
                        ("action", models.CharField(max_length=200)),
                        ("target", models.CharField(blank=True, max_length=255)),
                        ("method", models.CharField(max_length=10)),
                        ("path", models.CharField(max_length=1000)),
                        ("status", models.PositiveSmallIntegerField(help_text="HTTP status of the answer.")),
                        ("client", models.GenericIPAddressField(blank=True, null=True)),
                        ("opaque_id", models.CharField(blank=True, help_text="X-Opaque-Id of the request.", max_length=255)),
                    ],
                    options={
                        "db_table": "tasks_auditentry",
                        "verbose_name_plural": "audit entries",
                        "ordering": ["-at", "-id"],
                        "indexes": [
                            models.Index(fields=["user", "-at"], name="audit_user"),
                            models.Index(fields=["action", "-at"], name="audit_action"),
                            models.Index(fields=["target"], name="audit_target"),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="ApiToken",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(help_text="What the token is for.", max_length=100)),
                        ("key_id", models.CharField(editable=False, help_text="Public id (ApiKey's id).", max_length=32, unique=True)),
                        ("key_hash", models.CharField(editable=False, max_length=64, unique=True)),
                        ("created", models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ("last_used", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="api_tokens",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tasks_apitoken",
                        "ordering": ["-created"],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_types("tasks", "access"), move_content_types("access", "tasks")),
    ]
