"""The Django admin obeys the privilege table (jobsite/access/privileges.py), not `is_staff`.

The site is entered with `cluster:admin/site` (granted by `manage`); people sign in on the console's login
page (`settings.LOGIN_URL`), the only one, with its rate limit; and each privilege group holds the Django
permissions the admin's per-model checks (ModelBackend) look for.

The default `admin.site` is adjusted in place rather than replaced by a subclass: a replacement needs
`default_site` on an AdminConfig in INSTALLED_APPS, and every app's `@admin.register` must keep landing
on it. Admin autodiscovery imports this module, before the URLconf asks the site for its URLs.
"""

from functools import wraps

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.management import create_permissions
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS
from django.urls import reverse

from jobsite.access.privileges import MANAGE, PRIVILEGES, may, refusal

SITE = "cluster:admin/site"

site = admin.site
_django_admin_view = site.admin_view


def has_permission(request):
    return request.user.is_active and may(request.user, SITE)


def admin_view(view, cacheable=False):
    """Django sends whoever it refuses to the login page; a signed-in user without the privilege would
    only loop there, so they get a 403 naming the privilege instead."""
    protected = _django_admin_view(view, cacheable)

    @wraps(protected)
    def inner(request, *args, **kwargs):
        if request.user.is_authenticated and not has_permission(request):
            raise PermissionDenied(refusal(request.user, SITE))
        return protected(request, *args, **kwargs)

    return inner


def login(request, extra_context=None):
    """One login page for the whole site: the admin's sends people to the console's, then back here."""
    wanted = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index", current_app=site.name)
    return redirect_to_login(wanted, settings.LOGIN_URL)


site.has_permission = has_permission
site.admin_view = admin_view
site.login = login


# --- Django permissions behind the privilege groups ------------------------------------------------------

# `manage` edits every row of these apps by hand; the other privileges may look at the cluster's rows.
MANAGED_APPS = ("jobs", "assets", "tasks", "access", "auth", "django_q")
VIEWED_APPS = ("jobs", "assets", "tasks", "access")


def grant_privilege_permissions(using=DEFAULT_DB_ALIAS, apps=global_apps, **kwargs):
    """post_migrate: each privilege group exists and holds its Django permissions, new models included.

    Idempotent. A test database flush empties the group table too, and sends post_migrate again.
    """
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:
        return  # auth is not migrated (yet)
    for label in MANAGED_APPS:
        # Django creates an app's permissions on that app's own post_migrate, which may come after this.
        create_permissions(global_apps.get_app_config(label), verbosity=0, using=using, apps=apps)
    permissions = Permission.objects.using(using)
    for name in PRIVILEGES:
        group, _ = Group.objects.using(using).get_or_create(name=name)
        if name == MANAGE:
            granted = permissions.filter(content_type__app_label__in=MANAGED_APPS)
        else:
            granted = permissions.filter(content_type__app_label__in=VIEWED_APPS, codename__startswith="view_")
        group.permissions.add(*granted)
