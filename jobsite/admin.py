"""The Django admin obeys the privilege table (jobsite/access/privileges.py), not `is_staff`; and the few
display and action helpers every app's admin shares.

The site is entered with `cluster:admin/site` (granted by `manage`); people sign in on the console's login
page (`settings.LOGIN_URL`), the only one, with its rate limit; and each privilege group holds the Django
permissions the admin's per-model checks (ModelBackend) look for.

The default `admin.site` is adjusted in place rather than replaced by a subclass: a replacement needs
`default_site` on an AdminConfig in INSTALLED_APPS, and every app's `@admin.register` must keep landing
on it. Admin autodiscovery imports this module, before the URLconf asks the site for its URLs.
"""

import json
from functools import wraps
from urllib.parse import urlencode

from django.apps import apps as global_apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, model_ngettext
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.management import create_permissions
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS
from django.urls import reverse
from django.utils.html import format_html

from jobsite.access.privileges import MANAGE, PRIVILEGES, may, refusal
from jobsite.actions import SITE
from jobsite.errors import DomainError

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


# --- helpers the apps' admins share ------------------------------------------------------------------------

# Read-only displays render a callable's None as "None", so helpers return the admin's empty marker.
EMPTY = admin.site.empty_value_display


def change_link(model, pk, text=None):
    """A link to a row's change page, or "-" when there is no row."""
    if pk is None:
        return EMPTY
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, pk if text is None else text)


def changelist_link(model, text, **filters):
    """A link to a filtered changelist: how related rows are reached when there can be too many to inline."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(filters), text)


def json_display(field_name):
    """A read-only display of a JSON field, indented (Django's own read-only display is one long line)."""

    @admin.display(description=field_name.replace("_", " "))
    def display(model_admin, obj):
        value = getattr(obj, field_name)
        if value is None:
            return EMPTY
        return format_html('<pre style="margin:0">{}</pre>', json.dumps(value, indent=2, ensure_ascii=False))

    return display


class ReadOnlyByDefault:
    """Every field on the change page is read-only unless listed in `editable_fields`.

    A whitelist, so a field added to the page later stays read-only until someone decides otherwise.
    The admin must declare `fields` or `fieldsets` (Django would otherwise ask the form, which asks us).
    """

    editable_fields = ()

    def get_readonly_fields(self, request, obj=None):
        return [f for f in flatten_fieldsets(self.get_fieldsets(request, obj)) if f not in self.editable_fields]


class ViewOnly(ReadOnlyByDefault):
    """Rows only the system writes: nothing to add or edit by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def privileged_action(action, description, done):
    """An admin action needing `action` from the privilege table, applied row by row (through a service).

    The decorated function acts on one row. A row the service refuses (a DomainError) gets its own error
    message, the others one summary: "3 executions stopped."
    """

    def decorate(act_on_row):
        @admin.action(description=description)
        @wraps(act_on_row)
        def run(model_admin, request, queryset):
            succeeded = 0
            for row in queryset:
                try:
                    act_on_row(model_admin, request, row)
                except DomainError as error:
                    model_admin.message_user(request, f"{row}: {error.message}", messages.ERROR)
                else:
                    succeeded += 1
            if succeeded:
                done_message = f"{succeeded} {model_ngettext(queryset, succeeded)} {done}."
                model_admin.message_user(request, done_message, messages.SUCCESS)

        run.privileged_action = action
        return run

    return decorate


class PrivilegedActions:
    """Offers only the `privileged_action`s the user may perform. Django looks a posted action up through
    `get_actions` too, so one not offered is refused even when forged."""

    def get_actions(self, request):
        return {
            name: entry
            for name, entry in super().get_actions(request).items()
            if not hasattr(entry[0], "privileged_action") or may(request.user, entry[0].privileged_action)
        }


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
