"""Django's PostgreSQL backend, with the web process's pool (`base.WebPool`). Settings name it as the
ENGINE of a pooled database."""
