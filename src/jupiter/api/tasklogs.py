"""GET /circe/logs: what each task run on an agent printed, as the home fetches it at the end
of a run (and writes under --report DIR/logs/tasks/)."""

from __future__ import annotations

from pydantic import Field

from jupiter.api.models import InputId, Message, Name


class TaskLog(Message):
    """One run of `task` on `input_id` at `node` (its last attempt): the end of its stdout
    and stderr, and how many bytes each held in all (more than the text: it was cut)."""

    task: Name
    input_id: InputId
    node: Name
    stdout: str
    stderr: str
    stdout_bytes: int = Field(ge=0)
    stderr_bytes: int = Field(ge=0)
    # The agent dropped the text to stay within its budget (older runs' text goes first).
    dropped: bool = False
    failed: bool = False


class TaskLogs(Message):
    node: Name
    logs: list[TaskLog]
