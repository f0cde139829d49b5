"""Console routes of the tasks app (mounted under /console/)."""

from django.urls import path

from tasks import views

urlpatterns = [
    path("tokens/", views.TokensView.as_view(), name="tokens"),
    path("tokens/new", views.TokenCreateView.as_view(), name="token-create"),
    path("tokens/<str:key_id>/revoke", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("audit/", views.AuditView.as_view(), name="audit"),
]
