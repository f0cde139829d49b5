"""Who may do what (spec/jobsite.md §7), in one place.

Every view (API and console alike) declares the action each of its methods performs, and every admin
bulk action declares its own; this module says which privileges (groups) grant each action. A method
that declares nothing is a read when it is safe (GET, HEAD, OPTIONS) and needs `manage` otherwise, so a
route added later is protected from birth.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from jobsite import actions
from jobsite.conf import conf

MONITOR, MANAGE_ROLLUP, MANAGE_ML, MANAGE = "monitor", "manage_rollup", "manage_ml", "manage"
PRIVILEGES = (MONITOR, MANAGE_ROLLUP, MANAGE_ML, MANAGE)

READERS = PRIVILEGES
CONTROLLERS = (MANAGE_ROLLUP, MANAGE)  # start, stop, pause, resume
CLOSERS = (MANAGE_ML, MANAGE)  # close, open

ACTION_PRIVILEGES = {
    actions.READ: READERS,
    actions.JOBS_START: CONTROLLERS,
    actions.JOBS_STOP: CONTROLLERS,
    actions.JOBS_PAUSE: CONTROLLERS,
    actions.JOBS_RESUME: CONTROLLERS,
    actions.JOBS_CLOSE: CLOSERS,
    actions.JOBS_OPEN: CLOSERS,
    actions.JOBS_SUBMIT: (MANAGE,),
    actions.JOBS_UPDATE: (MANAGE,),
    actions.JOBS_DELETE: (MANAGE,),
    actions.JOBS_RECOVER: (MANAGE,),
    actions.JOBS_WORKERS: (MANAGE,),
    actions.ASSETS_UPLOAD: (MANAGE,),
    actions.ASSETS_DELETE: (MANAGE,),
    actions.TASKS_CANCEL: (MANAGE,),
    actions.NODES_FORGET: (MANAGE,),
    actions.TASKS_LIST: READERS,
    # Anyone holding a privilege may keep API tokens for themselves; admins manage everybody's.
    actions.TOKENS_OWN: READERS,
    actions.TOKENS_REVOKE: (MANAGE,),  # anybody's token, from the admin
    # The Django admin edits any row by hand, so it is `manage` only.
    actions.SITE: (MANAGE,),
}
UNDECLARED_WRITE = (MANAGE,)

# JOBSITE_ANONYMOUS: what a request without credentials may do (trusted networks only).
ANONYMOUS_PRIVILEGES = {"none": (), "read": (MONITOR,), "manage": (MANAGE,)}


def action_of(view, method: str) -> str:
    declared = getattr(view, "action_by_method", {}).get(method.lower())
    if declared:
        return declared
    return actions.READ if method in SAFE_METHODS else f"{type(view).__name__}:{method.lower()}"


def privileges_granting(action: str) -> tuple[str, ...]:
    return ACTION_PRIVILEGES.get(action, UNDECLARED_WRITE)


def privileges_of(user) -> set[str]:
    """The user's privileges, read once per user object (a request checks several actions: the view's,
    the buttons a page offers, the admin's actions)."""
    if not user or not user.is_authenticated:
        return set(ANONYMOUS_PRIVILEGES[conf.anonymous])
    if user.is_superuser:
        return set(PRIVILEGES)
    if not hasattr(user, "_jobsite_privileges"):
        names = getattr(user, "_group_names", None)  # the API's authentication read them with the user's row
        if names is None:
            names = user.groups.filter(name__in=PRIVILEGES).values_list("name", flat=True)
        user._jobsite_privileges = frozenset(names) & frozenset(PRIVILEGES)
    return set(user._jobsite_privileges)


def may(user, action: str) -> bool:
    return bool(privileges_of(user) & set(privileges_granting(action)))


def refusal(user, action: str) -> str:
    """Why `user` may not perform `action`, in Elasticsearch's words (naming the privileges that grant it)."""
    return (
        f"action [{action}] is unauthorized for user [{user.get_username()}], "
        f"this action is granted by the cluster privileges [{','.join(privileges_granting(action))}]"
    )


class ActionPermission(BasePermission):
    """Allows a request when the user holds one of the privileges that grant the view's action."""

    def has_permission(self, request, view):
        action = action_of(view, request.method)
        if may(request.user, action):
            return True
        if request.user and request.user.is_authenticated:
            self.message = refusal(request.user, action)
        return False
