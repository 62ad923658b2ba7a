"""Text formats for times, durations, counts and run ids on the screens.

Snapshot tests set ``MASK_VOLATILE`` so that values that change from run to
run (times, durations, run ids) render as fixed placeholders.
"""

from __future__ import annotations

from datetime import datetime

MASK_VOLATILE = False


def clock(timestamp: float | None) -> str:
    """Return a local date and time, or an empty string."""
    if timestamp is None:
        return ""
    if MASK_VOLATILE:
        return "YYYY-MM-DD HH:MM:SS"
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """Return seconds as ``1.23s`` or ``2m05s``."""
    if seconds is None:
        return ""
    if MASK_VOLATILE:
        return "#.##s"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s"


def run_id(ident: str) -> str:
    return "<run id>" if MASK_VOLATILE else ident


def usage(used: int | None, limit: int | None) -> str:
    """Return ``used/limit`` with the percentage, or ``?`` when unknown."""
    if used is None:
        return "?" if limit is None else f"?/{limit:,}"
    if not limit:
        return f"{used:,}"
    return f"{used:,}/{limit:,} {used * 100 // limit}%"


def present(value: bool | None) -> str:
    """Return yes, no or ? for a record that exists, is missing or unknown."""
    if value is None:
        return "?"
    return "yes" if value else "NO"


def folder(path: str) -> str:
    """Return a folder path; masked because tests use temporary folders."""
    return "<data folder>" if MASK_VOLATILE else path
