"""Basic credentials are verified by the password hasher once, however many requests bring them at once."""

import base64
import concurrent.futures

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connections
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIRequestFactory

from jobsite.access.authentication import CachedBasicAuthentication, forget_verified_credentials

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def verifications(monkeypatch):
    """How many times the password hasher verified a password."""
    calls = []
    verify = PBKDF2PasswordHasher.verify

    def counted(self, password, encoded):
        calls.append(password)
        return verify(self, password, encoded)

    monkeypatch.setattr(PBKDF2PasswordHasher, "verify", counted)
    forget_verified_credentials()
    yield calls
    forget_verified_credentials()


def basic_request(username: str, password: str):
    value = base64.b64encode(f"{username}:{password}".encode()).decode()
    return APIRequestFactory().get("/v1", HTTP_AUTHORIZATION=f"Basic {value}")


def authenticate(username: str, password: str):
    try:
        return CachedBasicAuthentication().authenticate(basic_request(username, password))
    finally:
        connections.close_all()  # each thread's own connection


def test_twenty_requests_at_once_pay_the_hasher_once(django_user_model, verifications):
    user = django_user_model.objects.create_user("script", password="right-password-1")

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: authenticate("script", "right-password-1"), range(20)))

    assert [answer[0].pk for answer in answers] == [user.pk] * 20
    assert len(verifications) == 1


def test_wrong_passwords_are_each_verified_and_refused(django_user_model, verifications):
    django_user_model.objects.create_user("script", password="right-password-1")
    authenticate("script", "right-password-1")

    for _ in range(2):
        with pytest.raises(AuthenticationFailed):
            authenticate("script", "wrong-password")
    assert len(verifications) == 3


def test_a_changed_password_is_verified_again(django_user_model, verifications):
    user = django_user_model.objects.create_user("script", password="right-password-1")
    authenticate("script", "right-password-1")
    user.set_password("new-password-22")
    user.save()

    with pytest.raises(AuthenticationFailed):
        authenticate("script", "right-password-1")
    assert authenticate("script", "new-password-22")[0].pk == user.pk
