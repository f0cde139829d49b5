import dataclasses

import pytest


@pytest.fixture
def file_roots(settings, tmp_path):
    """File operations may read and write in `tmp_path` (JOBSITE_FILE_ROOTS); returns it."""
    settings.JOBSITE = dataclasses.replace(settings.JOBSITE, file_roots=str(tmp_path))
    return tmp_path
