"""How the console writes a running time: `45 s`, `3 m 12 s`, `2 h 5 m`, `3 d 4 h` (static/js/tasks.js
writes it the same way as it ticks)."""

from django import template

register = template.Library()


def spelled(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    minutes, second = divmod(seconds, 60)
    hours, minute = divmod(minutes, 60)
    days, hour = divmod(hours, 24)
    if days:
        return f"{days} d {hour} h"
    if hours:
        return f"{hours} h {minute} m"
    if minutes:
        return f"{minutes} m {second} s"
    return f"{second} s"


@register.filter
def duration(seconds) -> str:
    return spelled(seconds)


@register.filter
def iso_seconds(seconds) -> str:
    """The `datetime` of a `<time>` holding a duration: `PT192S`."""
    return f"PT{max(int(seconds), 0)}S"
