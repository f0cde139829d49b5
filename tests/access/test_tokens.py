"""API tokens: the key is shown once and never stored, only its digest."""

from jobsite.access.models import ApiToken
from jobsite.access.tokens import create_token


def test_only_a_digest_of_the_key_is_stored(admin_user):
    record, key = create_token(user=admin_user, name="ci")

    stored = ApiToken.objects.get(pk=record.pk)
    assert key not in (stored.key_hash, stored.key_id)
    assert len(stored.key_hash) == 64
