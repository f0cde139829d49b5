"""The console's pages of the jobs app, one module per page family (mounted by jobs/urls.py)."""
