"""The Elasticsearch faces of jobs (spec/jobsite.md §3-4): ML close/open/stats and rollup stop/start/get,
each also under `/_xpack`."""

urlpatterns: list = []
