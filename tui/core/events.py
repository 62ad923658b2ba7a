"""Plain records of ansible-runner events, as the run view shows them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Runner event names and the result each stands for.
RESULT_EVENTS: dict[str, str] = {
    "runner_on_ok": "ok",
    "runner_on_failed": "failed",
    "runner_on_skipped": "skipped",
    "runner_on_unreachable": "unreachable",
    "runner_item_on_ok": "ok",
    "runner_item_on_failed": "failed",
    "runner_item_on_skipped": "skipped",
}
FINAL_STATUSES = frozenset({"successful", "failed", "canceled", "timeout", "error"})
MESSAGE_MAX = 500


@dataclass(frozen=True)
class RunEvent:
    """One event of a playbook run.

    ``kind`` is ``play``, ``task``, ``result``, ``stats`` or ``other``.
    ``result`` is ok, changed, failed, skipped or unreachable for results,
    ``ignored`` when a failure was ignored. ``duration`` is in seconds.
    """

    counter: int
    event: str
    kind: str
    play: str = ""
    task: str = ""
    task_uuid: str = ""
    host: str = ""
    result: str = ""
    duration: float | None = None
    message: str = ""
    stats: dict[str, dict[str, int]] | None = None


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list):
        return " ".join(_text(item) for item in value if item)
    return str(value).strip()


def failure_message(res: dict[str, Any]) -> str:
    """Return a failed task's reason in plain words: msg, then stderr,
    then the exception's last line."""
    message = _text(res.get("msg"))
    stderr = _text(res.get("stderr"))
    if stderr and stderr not in message:
        message = f"{message}: {stderr}" if message else stderr
    if not message:
        exception = _text(res.get("exception"))
        message = exception.splitlines()[-1] if exception else ""
    if not message and res.get("results"):
        for item in res["results"]:
            if isinstance(item, dict) and item.get("failed"):
                message = failure_message(item)
                break
    if res.get("_ansible_no_log") or res.get("censored"):
        message = _text(res.get("censored")) or "output hidden (no_log)"
    if len(message) > MESSAGE_MAX:
        message = message[: MESSAGE_MAX - 1] + "…"
    return message or "the task failed without a message"


def parse_event(raw: dict[str, Any]) -> RunEvent:
    """Turn a runner event dict into a RunEvent; unknown events become
    kind ``other``."""
    name = str(raw.get("event", ""))
    data: dict[str, Any] = raw.get("event_data") or {}
    counter = int(raw.get("counter") or 0)
    play = _text(data.get("play"))
    task = _text(data.get("task"))
    if name == "playbook_on_play_start":
        return RunEvent(counter, name, "play", play=play or _text(data.get("name")))
    if name in ("playbook_on_task_start", "playbook_on_handler_task_start"):
        return RunEvent(
            counter,
            name,
            "task",
            play=play,
            task=task or _text(data.get("name")),
            task_uuid=_text(data.get("task_uuid")),
        )
    if name in RESULT_EVENTS:
        res: dict[str, Any] = data.get("res") or {}
        result = RESULT_EVENTS[name]
        if result == "ok" and res.get("changed"):
            result = "changed"
        if result == "failed" and data.get("ignore_errors"):
            result = "ignored"
        message = ""
        if result in ("failed", "ignored", "unreachable"):
            message = failure_message(res)
        duration = data.get("duration")
        return RunEvent(
            counter,
            name,
            "result",
            play=play,
            task=task,
            task_uuid=_text(data.get("task_uuid")),
            host=_text(data.get("host")),
            result=result,
            duration=float(duration) if duration is not None else None,
            message=message,
        )
    if name == "playbook_on_stats":
        stats: dict[str, dict[str, int]] = {}
        for key in ("ok", "changed", "failures", "skipped", "dark", "ignored"):
            for host, count in (data.get(key) or {}).items():
                stats.setdefault(str(host), {})[key] = int(count)
        return RunEvent(counter, name, "stats", stats=stats)
    return RunEvent(counter, name, "other", play=play, task=task)
