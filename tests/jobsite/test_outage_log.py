"""django-q2's own log during a database outage is said once a minute, whichever of its processes says it."""

import logging

from jobsite.outage import OncePerOutage


def record(message: str, level=logging.CRITICAL) -> logging.LogRecord:
    return logging.LogRecord("django-q", level, __file__, 1, message, (), None)


def test_a_reincarnated_pusher_is_said_once_whatever_its_process_name():
    once = OncePerOutage()
    said = [once.filter(record(f"reincarnated pusher Process-{digit * 32} after sudden death")) for digit in "abc"]
    assert said == [True, False, False]


def test_other_errors_and_lower_levels_are_not_silenced_by_it():
    once = OncePerOutage()
    assert once.filter(record("reincarnated pusher Process-" + "a" * 32 + " after sudden death"))
    assert once.filter(record("reincarnated monitor Process-" + "b" * 32 + " after sudden death"))
    assert once.filter(record("pushing tasks at 123", logging.INFO))
    assert once.filter(record("pushing tasks at 123", logging.INFO))
