import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from jobsite.conf import conf


class Command(BaseCommand):
    help = (
        "Make sure the admin superuser exists. Name from JOBSITE_ADMIN_USER (default `admin`); password from "
        "JOBSITE_ADMIN_PASSWORD, else generated on first run and printed once."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        username = conf.admin_user or "admin"
        password = conf.admin_password
        user = User.objects.filter(username=username).first()
        if user is None:
            generated = not password
            password = password or secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email="", password=password)
            if generated:
                self.stdout.write(self.style.WARNING(password_box(username, password, settings.PORT)))
            else:
                self.stdout.write(f"Created admin user {username!r} (password from JOBSITE_ADMIN_PASSWORD).")
        elif password and not user.check_password(password):
            user.set_password(password)
            user.save(update_fields=["password"])
            self.stdout.write(f"Admin user {username!r}: password set from JOBSITE_ADMIN_PASSWORD.")


def password_box(username: str, password: str, port) -> str:
    """The generated password framed so that it stands out of the server logs, with the lines the README's
    curl commands expect. Plain `=` rules: they print on any terminal encoding."""
    lines = [
        f"Created admin user {username!r} with password {password!r}.",
        "It is shown only this once: keep it, or set JOBSITE_ADMIN_PASSWORD.",
        "For the README's curl lines, paste these two lines into your shell:",
        "",
        f"    export JOBSITE=http://localhost:{port}",
        f"    export JOBSITE_PASSWORD={password}",
    ]
    rule = "=" * (max(len(line) for line in lines) + 4)
    return "\n".join(["", rule, *(f"  {line}".rstrip() for line in lines), rule, ""])
