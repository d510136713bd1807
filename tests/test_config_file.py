"""jupiter.yaml: honoured, overridden by flags, refused in one line when bad; --dry-run maps
and prints, and starts and writes nothing."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import psutil
import pytest

from jupiter.cli import main
from jupiter.cli.config import PROFILE_FIELDS, ChosenSettings, ConfigFile, apply_file_settings
from jupiter.cluster.spec import Cluster
from jupiter.controller.run import RunOptions
from jupiter.planning.settings import ControllerSettings, LazySettings
from jupiter.profiler.home import ProfileSettings

EXAMPLE = Path(__file__).parents[1] / "examples" / "diamond"
DIAMOND_TASKS = {"numbers", "a", "b", "c", "d"}


@pytest.fixture
def app(tmp_path: Path) -> Path:
    """A copy of the diamond example, so that a jupiter.yaml can be put beside it."""
    copy = tmp_path / "diamond"
    shutil.copytree(EXAMPLE, copy)
    return copy


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty current folder: no stray jupiter.yaml is found by default."""
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def run_cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exited:
        main(["run", *args])
        raise SystemExit(0)
    return int(exited.value.code or 0)


def settings_table(out: str) -> dict[str, tuple[str, str]]:
    """The dry run's `settings:` lines as name -> (value, source)."""
    table: dict[str, tuple[str, str]] = {}
    lines = out.split("settings:\n", 1)[1].splitlines()
    for line in lines:
        if not line.startswith("  "):
            break
        name, rest = line.strip().split(None, 1)
        value, source = rest.rsplit("  (", 1)
        table[name] = (value.strip(), source.rstrip(")"))
    return table


def mapping_lines(out: str) -> dict[str, list[str]]:
    lines = out.split("):\n", 1)[1].split("predicted makespan")[0].splitlines()
    return {line.split()[0]: line.split(None, 1)[1].split(", ") for line in lines}


# --- the file honoured, and flags over it -------------------------------------------------------


def test_dry_run_takes_the_file_and_a_flag_wins(
    app: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "jupiter.yaml").write_text(
        "mapper:\n  name: heft\n  parameters: {max_tasks_per_node: 1}\n"
        "stream: {inputs: 4, max_in_flight: 2}\n"
        "cluster: {nodes: 6}\n"
        "controller: {heartbeat_timeout: 3.5, backpressure: {queue: 16}}\n"
        "profiler: {sizes: [4096, 65536], interval: 30}\n"
    )
    assert run_cli([str(app), "--dry-run", "--inputs", "7"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "config: jupiter.yaml"
    table = settings_table(out)
    assert table["stream.inputs"] == ("7", "flag")
    assert table["stream.max_in_flight"] == ("2", "jupiter.yaml")
    assert table["cluster.nodes"] == ("6", "jupiter.yaml")
    assert table["controller.heartbeat_timeout"] == ("3.5", "jupiter.yaml")
    assert table["controller.backpressure.queue"] == ("16", "jupiter.yaml")
    assert table["controller.backpressure.bytes"] == (str(2 * 1024**3), "default")
    # As the file's list, or as the `--sizes` text it becomes where that flag exists.
    assert table["profiler.sizes"] in {
        ("[4096, 65536]", "jupiter.yaml"),
        ("4096,65536", "jupiter.yaml"),
    }
    assert table["mapper.parameters"] == ("{'max_tasks_per_node': 1}", "jupiter.yaml")
    assert table["stream.timeout"] == ("600", "default")
    assert "predicted stream, 7 inputs:" in out
    # max_tasks_per_node 1 reached the mapper: five tasks on five distinct nodes of six.
    lanes = mapping_lines(out)
    assert all(len(tasks) == 1 for tasks in lanes.values()), lanes
    assert {task for tasks in lanes.values() for task in tasks} == DIAMOND_TASKS
    assert set(lanes) <= {f"n{i:02d}" for i in range(6)}


def test_without_the_parameter_heft_packs_the_diamond(
    app: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The control for the test above: the cap is what spread the tasks."""
    assert run_cli([str(app), "--dry-run", "--nodes", "6"]) == 0
    lanes = mapping_lines(capsys.readouterr().out)
    assert any(len(tasks) > 1 for tasks in lanes.values()), lanes


def test_the_current_folder_is_read_before_the_app_folder(
    app: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (app / "jupiter.yaml").write_text("stream: {inputs: 3}\n")
    assert run_cli([str(app), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"config: {app / 'jupiter.yaml'}"
    assert settings_table(out)["stream.inputs"] == ("3", str(app / "jupiter.yaml"))
    (here / "jupiter.yaml").write_text("stream: {inputs: 5}\n")
    assert run_cli([str(app), "--dry-run"]) == 0
    assert settings_table(capsys.readouterr().out)["stream.inputs"] == ("5", "jupiter.yaml")
    assert run_cli([str(app), "--dry-run", "--no-config"]) == 0
    out = capsys.readouterr().out
    assert not out.startswith("config:")
    assert settings_table(out)["stream.inputs"] == ("10", "default")


def test_paths_in_the_file_are_relative_to_it(
    app: Path, tmp_path: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "settings"
    settings.mkdir()
    (settings / "three.yaml").write_text(
        "nodes:\n  - {name: x1, region: sfo}\n  - {name: x2, region: nyc}\n"
        "  - {name: x3, region: ams}\n"
    )
    (settings / "jupiter.yaml").write_text("cluster: {file: three.yaml}\n")
    assert run_cli([str(app), "--config", str(settings / "jupiter.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert set(mapping_lines(out)) <= {"x1", "x2", "x3"}
    # --nodes on the command line replaces the file's whole choice of cluster.
    assert (
        run_cli([str(app), "--config", str(settings / "jupiter.yaml"), "--dry-run", "--nodes", "2"])
        == 0
    )
    table = settings_table(capsys.readouterr().out)
    assert table["cluster.nodes"] == ("2", "flag")
    assert table["cluster.file"] == ("-", "flag")  # the flag chose, not the file


def test_settings_no_flag_carries_reach_the_run_options() -> None:
    config = ConfigFile.model_validate(
        {
            "mapper": {"name": "random", "parameters": {"seed": 7}},
            "controller": {
                "heartbeat_timeout": 4.0,
                "backpressure": {"queue": 8, "bytes": 1024},
                "lazy": {"drift_threshold": 2.0},
            },
            "profiler": {
                "sizes": [1000],
                "window": 5,
                "execution_parallel": 2,
                "strategy": "sampled",
                "latency_peers": 12,
            },
        }
    )
    base = RunOptions(app=EXAMPLE, cluster=Cluster.default(2), backend=None)  # type: ignore[arg-type]
    base.profile_settings = ProfileSettings(timeout=42.0)
    options = apply_file_settings(base, ChosenSettings(config=config))
    assert options.mapper_parameters == {"seed": 7}
    assert options.heartbeat_timeout == 4.0
    assert (options.backpressure_queue, options.backpressure_bytes) == (8, 1024)
    assert options.controller == ControllerSettings(lazy=LazySettings(drift_threshold=2.0))
    assert options.profile_settings.sizes == [1000]
    assert options.profile_settings.window == 5
    assert options.profile_settings.execution_parallel == 2
    assert options.profile_settings.strategy == "sampled"
    assert options.profile_settings.sampled(4)
    assert options.profile_settings.latency_peers == 12
    assert options.profile_settings.timeout == 42.0  # --profile-timeout's, kept


@pytest.mark.parametrize(
    ("section", "execution", "nodes"),
    [
        ({}, True, "per-class"),
        ({"execution": "every-node"}, True, "every-node"),
        ({"execution": "per-class", "execution_per_class": 3}, True, "per-class"),
        ({"execution_nodes": "every-node"}, True, "every-node"),
        ({"execution": False}, False, "per-class"),
    ],
)
def test_the_execution_profilers_nodes_come_from_the_file(
    section: dict[str, object], execution: bool, nodes: str
) -> None:
    config = ConfigFile.model_validate({"profiler": section})
    base = RunOptions(app=EXAMPLE, cluster=Cluster.default(2), backend=None)  # type: ignore[arg-type]
    settings = apply_file_settings(base, ChosenSettings(config=config)).profile_settings
    assert (settings.execution, settings.execution_nodes) == (execution, nodes)
    assert settings.execution_per_class == section.get("execution_per_class", 2)


@pytest.fixture
def run_options_seen(monkeypatch: pytest.MonkeyPatch) -> list[RunOptions]:
    """The RunOptions `jupiter run` would run with (the run itself is not started)."""
    import jupiter.cli.run as cli_run

    seen: list[RunOptions] = []
    monkeypatch.setattr(cli_run, "execute", lambda options, *args, **kwargs: seen.append(options))
    return seen


def test_controller_and_execution_model_from_the_file_and_flags_over_it(
    app: Path,
    here: Path,
    capsys: pytest.CaptureFixture[str],
    run_options_seen: list[RunOptions],
) -> None:
    (here / "jupiter.yaml").write_text(
        "controller: {mode: lazy, lazy: {window: 4}}\nexecution_model: mapped\n"
    )
    assert run_cli([str(app), "--dry-run"]) == 0
    table = settings_table(capsys.readouterr().out)
    assert table["controller.mode"] == ("lazy", "jupiter.yaml")
    assert table["execution_model"] == ("mapped", "jupiter.yaml")
    assert run_cli([str(app), "--out", str(here / "a")]) == 0
    options = run_options_seen.pop()
    assert (options.controller.mode, options.execution_model) == ("lazy", "mapped")
    assert options.controller.lazy.window == 4
    # The flags win over the file; the file's thresholds stay.
    flags = ["--controller", "active", "--execution-model", "all"]
    assert run_cli([str(app), "--dry-run", *flags]) == 0
    table = settings_table(capsys.readouterr().out)
    assert table["controller.mode"] == ("active", "flag")
    assert table["execution_model"] == ("all", "flag")
    assert run_cli([str(app), "--out", str(here / "b"), *flags]) == 0
    options = run_options_seen.pop()
    assert (options.controller.mode, options.execution_model) == ("active", "all")
    assert options.controller.lazy.window == 4
    # Neither file nor flag: the defaults.
    assert run_cli([str(app), "--no-config", "--out", str(here / "c")]) == 0
    options = run_options_seen.pop()
    assert (options.controller.mode, options.execution_model) == ("none", "all")


def test_kubernetes_refuses_the_files_controller_naming_its_field(
    app: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "jupiter.yaml").write_text("controller: {mode: active}\n")
    assert run_cli([str(app), "--backend", "kubernetes", "--dry-run"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "error: jupiter.yaml: controller.mode: not available with --backend kubernetes yet"
    ]
    flags = ["--backend", "kubernetes", "--no-config", "--controller", "lazy"]
    assert run_cli([str(app), *flags]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["error: --controller: not available with --backend kubernetes yet"]


def test_the_profiler_section_covers_every_profile_setting() -> None:
    section = set(ConfigFile.model_fields["profiler"].annotation.model_fields)  # type: ignore[union-attr]
    assert section >= PROFILE_FIELDS, PROFILE_FIELDS - section
    defaults = ConfigFile().profiler
    for name in PROFILE_FIELDS:
        assert getattr(defaults, name) == getattr(ProfileSettings(), name), name
    assert {f.name for f in dataclasses.fields(ProfileSettings)} == PROFILE_FIELDS | {"timeout"}


# --- bad files and unavailable settings: one line, exit 2, nothing started ---------------------


def _fifo(path: Path) -> None:
    os.mkfifo(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("stream: {inputz: 3}\n", "jupiter.yaml: stream.inputz: unknown field (allowed: inputs,"),
        ("colour: blue\n", "jupiter.yaml: colour: unknown field (allowed: mapper, controller,"),
        ("stream: {inputs: three}\n", "jupiter.yaml: stream.inputs: input should be a valid"),
        ("controller: {recovery: 'yes'}\n", "jupiter.yaml: controller.recovery: input should be"),
        ("stream: {inputs: 0}\n", "jupiter.yaml: stream.inputs: input should be greater than"),
        ("stream: {inputs: 3}\x00\n", "jupiter.yaml: line 1, column 20: control character '\\x00'"),
        (_fifo, "jupiter.yaml: not a regular file (a FIFO)"),
        ("- a\n- b\n", "jupiter.yaml: expected a mapping of sections at the top level"),
        ("stream: {inputs: [\n", "jupiter.yaml: line 2, column 1: invalid YAML"),
        ("emulation: {time_dilation: 0.5}\n", "jupiter.yaml: emulation.time_dilation: must be"),
        (
            "mapper: {name: heft, parameters: {depth: 3}}\n",
            "mapper.parameters.depth: mapper 'heft' takes no such parameter "
            "(takes: max_tasks_per_node)",
        ),
        (
            "mapper: {name: heft, parameters: {max_tasks_per_node: two}}\n",
            "mapper.parameters.max_tasks_per_node: input should be a valid integer",
        ),
        ("controller: {mode: eager}\n", "jupiter.yaml: controller.mode: input should be 'none',"),
        (
            "profiler: {strategy: guess}\n",
            "jupiter.yaml: profiler.strategy: input should be 'auto',",
        ),
        (
            "profiler: {execution: sometimes}\n",
            "jupiter.yaml: profiler.execution: expected true, false, per-class or every-node, "
            "got 'sometimes'",
        ),
        (
            "profiler: {execution: every-node, execution_nodes: per-class}\n",
            "jupiter.yaml: profiler: execution: every-node contradicts execution_nodes: "
            "per-class; give one",
        ),
        (
            "profiler: {execution_per_class: 0}\n",
            "jupiter.yaml: profiler.execution_per_class: input should be greater than or equal",
        ),
    ],
)
def test_a_bad_file_is_one_line_and_exit_2(
    content: object,
    expected: str,
    app: Path,
    here: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = here / "jupiter.yaml"
    if callable(content):
        content(path)
    else:
        assert isinstance(content, str)
        path.write_text(content)
    before = psutil.Process().children(recursive=True)
    code = run_cli([str(app), "--out", str(here / "out")])
    assert code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and expected in lines[0], lines
    assert psutil.Process().children(recursive=True) == before
    assert not (here / "out").exists()


def test_a_missing_config_is_one_line(
    app: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli([str(app), "--config", "nowhere.yaml"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["error: nowhere.yaml: cannot read: No such file or directory"]


def test_kubernetes_refuses_what_its_home_would_not_honour(
    app: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "jupiter.yaml").write_text("controller: {heartbeat_timeout: 3}\n")
    assert run_cli([str(app), "--backend", "kubernetes", "--dry-run"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "error: jupiter.yaml: controller.heartbeat_timeout: not available with --backend "
        "kubernetes yet"
    ]


# --- --dry-run starts nothing and writes nothing ------------------------------------------------


def _tree(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def test_dry_run_starts_no_process_and_writes_nothing(
    app: Path, tmp_path: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "jupiter.yaml").write_text(
        json.dumps({"output": {"out": "outputs", "report": "report"}, "stream": {"inputs": 3}})
    )
    before_tree = _tree(tmp_path)
    before = psutil.Process().children(recursive=True)
    # A dry run with every way of writing asked for: --out, --report, --force.
    code = run_cli([str(app), "--dry-run", "--force", "--nodes", "4"])
    assert code == 0
    assert psutil.Process().children(recursive=True) == before
    assert _tree(tmp_path) == before_tree
    out = capsys.readouterr().out
    lanes = mapping_lines(out)
    assert {task for tasks in lanes.values() for task in tasks} == DIAMOND_TASKS
    assert set(lanes) <= {"n00", "n01", "n02", "n03"}
    assert "predicted makespan, one input: " in out
    assert "predicted stream, 3 inputs: mean makespan " in out
    assert out.rstrip().endswith("dry run: no agent started, nothing written")
    table = settings_table(out)
    assert table["output.out"] == ("outputs", "jupiter.yaml")


def test_dry_run_leaves_an_existing_out_folder_alone(
    app: Path, here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = here / "earlier"
    out.mkdir()
    (out / "0").mkdir()
    (out / "0" / "d").write_text("an earlier run's output")
    assert run_cli([str(app), "--dry-run", "--out", str(out), "--force"]) == 0
    assert _tree(out) == ["0", "0/d"]
    assert not (out / ".jupiter-run.json").exists()


# --- real runs: the file honoured, flags over it -----------------------------------------------


def _outputs(out: Path, app: Path) -> dict[int, dict[str, str]]:
    """What a run left in --out, per input, checked against the app's own functions."""
    from e2e.apps import expected_outputs

    found: dict[int, dict[str, str]] = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir() and p.name.isdigit()):
        found[int(folder.name)] = {f.name: f.read_text() for f in folder.iterdir()}
        assert found[int(folder.name)] == expected_outputs(app, int(folder.name))
    return found


@pytest.mark.e2e
def test_a_real_run_honours_the_file_and_a_flag_overrides_it(
    tmp_path: Path, here: Path, no_agent_survives: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from e2e.apps import diamond

    app = diamond(tmp_path / "generated")
    (here / "jupiter.yaml").write_text(
        "mapper: {name: heft, parameters: {max_tasks_per_node: 1}}\n"
        "stream: {inputs: 3, max_in_flight: 2}\n"
        "cluster: {nodes: 5}\n"
        "profiler: {enabled: false}\n"
        "output: {out: from-file, report: report}\n"
    )
    assert run_cli([str(app), "--quiet"]) == 0
    assert sorted(_outputs(here / "from-file", app)) == [0, 1, 2]
    report = json.loads((here / "report" / "report.json").read_text())
    assert len(report["inputs"]) == 3
    assert report["stream_prediction"]["max_in_flight"] == 2
    nodes = list(report["mapping"].values())
    assert len(nodes) == len(set(nodes)) == 5  # the file's max_tasks_per_node: 1, 5 tasks
    # The flags win: two inputs, into another folder; the file still sets the rest.
    assert run_cli([str(app), "--quiet", "--inputs", "2", "--out", "from-flag"]) == 0
    assert sorted(_outputs(here / "from-flag", app)) == [0, 1]
    assert sorted(_outputs(here / "from-file", app)) == [0, 1, 2]  # left alone
