"""The task management routes (spec/elasticsearch.md §2), at `/_tasks`, `/_cat/tasks` and their `_xpack` twins."""

urlpatterns: list = []
