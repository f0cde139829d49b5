from django.db import migrations


# slice_id is unique by construction (a uuid4; a recovered copy is refused by the order constraint), and its
# index was about a fifth of the WAL each slice writes. Dropping a unique index is instant on a big table.


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0010_console_read_indexes"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="slice",
            name="slice_id_per_execution",
        ),
    ]
