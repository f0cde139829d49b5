"""What migrations 0013 and 0015 share: a foreign key dropped from the database while Django's state keeps the
relation (`db_constraint=False`). Django reports that AlterField as a no-op, so the constraint is dropped by
name, whatever name it was created with; going back creates it again. (Not a migration: the loader skips
modules whose name starts with `_`.)"""

from django.db import migrations

DROP = """
DO $$
DECLARE name text;
BEGIN
    FOR name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = '{table}'::regclass AND confrelid = '{referenced}'::regclass AND contype = 'f'
    LOOP
        EXECUTE format('ALTER TABLE {table} DROP CONSTRAINT %I', name);
    END LOOP;
END $$;
"""

RESTORE = """
ALTER TABLE {table} ADD CONSTRAINT {table}_{column}_fk_{referenced}_{referenced_column}
    FOREIGN KEY ({column}) REFERENCES {referenced} ({referenced_column}) DEFERRABLE INITIALLY DEFERRED;
"""


def drop_foreign_key(
    table: str, column: str, referenced: str, referenced_column: str, state: migrations.AlterField
) -> migrations.RunSQL:
    """`table`.`column`'s foreign key to `referenced` dropped, with `state` (the field now without it)."""
    names = {"table": table, "column": column, "referenced": referenced, "referenced_column": referenced_column}
    return migrations.RunSQL(DROP.format(**names), RESTORE.format(**names), state_operations=[state])
