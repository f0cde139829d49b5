"""Console routes of access control (mounted under /console/, in the `console` namespace)."""

from django.urls import path

from jobsite.access import views

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("tokens/", views.TokensView.as_view(), name="tokens"),
    path("tokens/new", views.TokenCreateView.as_view(), name="token-create"),
    path("tokens/<str:key_id>/revoke", views.TokenRevokeView.as_view(), name="token-revoke"),
    path("audit/", views.AuditView.as_view(), name="audit"),
]
