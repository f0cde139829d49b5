"""On Elasticsearch routes a refusal comes in Elasticsearch's envelope, naming the action and the
privileges that grant it (spec/jobsite.md §7), exactly as on the Teraslice routes in Teraslice's shape."""

import base64

import pytest
from django.contrib.auth.models import Group

pytestmark = [pytest.mark.urls("tests.api.es_urls"), pytest.mark.django_db]


@pytest.fixture
def user_with(django_user_model):
    def make(privilege):
        user = django_user_model.objects.create_user(f"{privilege}-user", password="es-test-password")
        user.groups.add(Group.objects.get_or_create(name=privilege)[0])
        return {
            "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{user.username}:es-test-password".encode()).decode()
        }

    return make


@pytest.mark.parametrize("path", ["/_ml/anomaly_detectors/job-1/_close", "/_xpack/ml/anomaly_detectors/job-1/_close"])
def test_a_missing_privilege_is_a_403_security_exception(client, user_with, path):
    response = client.post(path, **user_with("manage_rollup"))

    assert response.status_code == 403
    reason = (
        "action [cluster:admin/jobs/close] is unauthorized for user [manage_rollup-user], "
        "this action is granted by the cluster privileges [manage_ml,manage]"
    )
    assert response.json() == {
        "error": {
            "root_cause": [{"type": "security_exception", "reason": reason}],
            "type": "security_exception",
            "reason": reason,
        },
        "status": 403,
    }


def test_no_credentials_is_a_401_security_exception_with_a_challenge(client):
    response = client.post("/_ml/anomaly_detectors/job-1/_close")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert response.json()["error"]["type"] == "security_exception"
    assert response.json()["status"] == 401


def test_the_privilege_that_grants_it_passes(client, user_with):
    response = client.post("/_ml/anomaly_detectors/job-1/_close", **user_with("manage_ml"))

    assert response.status_code == 200
