"""What the tasks printed, kept per (task, input) through a real `jupiter run --report DIR`:
files under DIR/logs/tasks/, linked from report.html, printed by `jupiter logs`; released
inputs' logs kept; megabytes of output kept to their last 64 KiB."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jupiter.app.runner import LOG_TAIL_BYTES

CODE = """
import sys


def talk(inputs, output):
    (data,) = [path.read_text() for path in inputs.values()]
    print(f"talk read {data.strip()!r}")
    print(f"talk warns about {data.strip()!r}", file=sys.stderr)
    output.write_text(data)


def loud(inputs, output):
    for n in range(300_000):
        print(f"loud line {n:07d}")
    output.write_text("done")
"""

LOUD_LINES = 300_000


def write_app(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "tasks.py").write_text(CODE)
    (root / "samples").mkdir()
    for k in range(4):
        (root / "samples" / f"{k}.txt").write_text(f"reading {k}\n")
    estimate = {"seconds": 0.01, "output_bytes": 16}
    spec = {
        "name": "chatty",
        "sources": [{"name": "sensor", "feeds": ["talk"], "inputs": ["samples/*.txt"]}],
        "tasks": {
            "talk": {"python": "tasks.py:talk", "parents": [], "estimate": estimate},
            "shout": {
                "command": "echo shout got $(cat {in:talk}); echo shout-err >&2; "
                "cat {in:talk} > {out}",
                "parents": ["talk"],
                "estimate": estimate,
            },
            "loud": {"python": "tasks.py:loud", "parents": ["shout"], "estimate": estimate},
            "silent": {"command": "cat {in:shout}", "parents": ["shout"], "estimate": estimate},
        },
    }
    (root / "app.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


def jupiter(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "jupiter", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("task-logs")
    report = tmp / "report"
    done = jupiter(
        "run", write_app(tmp / "app"), "--nodes", "3", "--inputs", "4", "--no-profile",
        "--mapper", "round-robin",
        # Spread over a few heartbeats: early inputs are released (their data and records
        # gone from the agents) before the run ends, and their logs must still come home.
        "--interval", "0.6", "--max-in-flight", "1",
        "--report", report, "--out", tmp / "out", "--timeout", "120", "--quiet",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return report


def test_every_run_that_printed_has_its_files(report: Path) -> None:
    folder = report / "logs" / "tasks"
    for k in range(4):
        assert (folder / "talk" / f"{k}.out").read_text() == f"talk read 'reading {k}'\n"
        assert (folder / "talk" / f"{k}.err").read_text() == f"talk warns about 'reading {k}'\n"
        assert (folder / "shout" / f"{k}.out").read_text() == f"shout got reading {k}\n"
        assert (folder / "shout" / f"{k}.err").read_text() == "shout-err\n"
    # A command without {out}: its stdout is its output, not a log.
    assert not (folder / "silent").exists()


def test_megabytes_of_output_keep_their_last_64_kib(report: Path) -> None:
    whole = "".join(f"loud line {n:07d}\n" for n in range(LOUD_LINES))
    for k in range(4):
        kept = (report / "logs" / "tasks" / "loud" / f"{k}.out").read_text()
        assert kept == whole[-LOG_TAIL_BYTES:]


def test_report_html_links_the_logs(report: Path) -> None:
    page = (report / "report.html").read_text()
    assert "<h2>Task logs</h2>" in page
    for href in re.findall(r"href='(logs/tasks/[^']+)'", page):
        assert (report / href).is_file(), href
    links = set(re.findall(r"href='(logs/tasks/[^']+)'", page))
    assert "logs/tasks/talk/0.out" in links and "logs/tasks/shout/3.err" in links
    assert re.search(r"<td>silent</td><td>4</td><td></td><td><i>printed nothing</i>", page)


def test_jupiter_logs_prints_a_task_per_input_and_node(report: Path) -> None:
    done = jupiter("logs", report, "talk", "--input", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    out, err = len("talk read 'reading 2'\n"), len("talk warns about 'reading 2'\n")
    assert re.fullmatch(rf"== talk input 2 on n0\d: stdout {out} B; stderr {err} B ==", lines[0])
    assert lines[1:] == ["talk read 'reading 2'", "-- stderr --", "talk warns about 'reading 2'"]

    every = jupiter("logs", report, "shout")
    headers = [line for line in every.stdout.splitlines() if line.startswith("== ")]
    assert [re.sub(r" on n0\d", "", h) for h in headers] == [
        f"== shout input {k}: stdout {len(f'shout got reading {k}') + 1} B; stderr 10 B =="
        for k in range(4)
    ]


def test_jupiter_logs_says_when_the_output_was_cut(report: Path) -> None:
    done = jupiter("logs", report, "loud", "--input", "0")
    whole = sum(len(f"loud line {n:07d}\n") for n in range(LOUD_LINES))
    header = done.stdout.splitlines()[0]
    assert f"stdout {whole} B, its last {LOG_TAIL_BYTES} B kept; stderr empty" in header
    assert len(done.stdout) < LOG_TAIL_BYTES + 200


def test_a_silent_task_is_listed_as_printing_nothing(report: Path) -> None:
    done = jupiter("logs", report, "silent", "--input", "1")
    assert done.returncode == 0
    assert re.fullmatch(r"== silent input 1 on n0\d: stdout empty; stderr empty ==\n", done.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nosuch",), "no logs of task 'nosuch' (tasks: loud, shout, silent, talk)"),
        (("talk", "--input", "9"), "task 'talk' has no logs for input 9 (inputs 0..3)"),
    ],
)
def test_a_missing_task_or_input_is_one_line_and_exit_2(
    report: Path, args: tuple[str, ...], message: str
) -> None:
    done = jupiter("logs", report, *args)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and message in done.stderr


def test_a_folder_without_logs_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = jupiter("logs", tmp_path, "talk")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no task logs here" in done.stderr
