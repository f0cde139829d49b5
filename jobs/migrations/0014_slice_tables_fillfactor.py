# More room in each page of the two slice tables for the new version of a row a claim updates (a HOT
# update: no new index entries). A claimed row names its holder (~40 bytes) and grows, which the room
# kept so far did not allow for, in a 20,000-slice run (2 workers):
# - jobs_slicework's rows were packed full on insert: 1,489 of 16,136 claims were HOT. At 50, most but
#   not all; at 25 all of a page's rows can be claimed in place. The table holds only unfinished slices
#   (the look-ahead and the slices in hand), so the room costs little.
# - jobs_slice at 50: about 80% of its updates were HOT. A page must hold each row as written and as
#   claimed (the finished version then takes the place of the first); at 40 it does for requests up to a
#   few hundred bytes. Finished rows keep the room: the history takes about a fifth more pages.
# Rows written from now on leave it; older ones keep theirs.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0013_slicework_no_foreign_key"),
    ]

    operations = [
        migrations.RunSQL(
            "ALTER TABLE jobs_slicework SET (fillfactor = 25)", "ALTER TABLE jobs_slicework RESET (fillfactor)"
        ),
        migrations.RunSQL(
            "ALTER TABLE jobs_slice SET (fillfactor = 40)", "ALTER TABLE jobs_slice SET (fillfactor = 50)"
        ),
    ]
