#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys

# Commands that never open a database connection: they do not start the embedded PostgreSQL.
WITHOUT_DATABASE = {"check", "makemigrations", "help", "version", "diffsettings", "spectacular", "collectstatic"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "jobsite.settings")
    command = sys.argv[1] if len(sys.argv) > 1 else "help"
    if command not in WITHOUT_DATABASE and not command.startswith("-"):
        from jobsite.embedded import attach_unless_configured

        attach_unless_configured()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
