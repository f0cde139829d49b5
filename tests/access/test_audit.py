"""The audit log keeps entries for JOBSITE_AUDIT_DAYS, and the worker nodes purge the older ones."""

import dataclasses
from datetime import timedelta

from django.utils import timezone

from jobsite.access.audit import purge_old_entries
from jobsite.access.models import AuditEntry


def test_entries_older_than_the_retention_are_purged(db, settings):
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, audit_days=30)
    old = AuditEntry.objects.create(action="a", method="POST", path="/", status=200)
    AuditEntry.objects.filter(pk=old.pk).update(at=timezone.now() - timedelta(days=31))
    AuditEntry.objects.create(action="b", method="POST", path="/", status=200)

    assert purge_old_entries() == 1
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["b"]
