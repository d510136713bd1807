"""Loading apps: the examples, the graph queries, inputs, and the JSON round trip."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from jupiter.app.spec import App, SourceSpec, TaskSpec, load_app
from jupiter.errors import SpecError

SITES = ["oregon", "frankfurt", "singapore"]


def test_anomaly_detection_example_loads(examples: Path) -> None:
    app = load_app(examples / "anomaly-detection")
    assert app.name == "anomaly-detection"
    assert app.root == (examples / "anomaly-detection").resolve()
    assert list(app.sources) == SITES
    assert app.topological_order() == [
        *(f"parse_{s}" for s in SITES),
        *(f"aggregate_{s}" for s in SITES),
        *(f"score_{s}" for s in SITES),
        "merge",
    ]
    assert app.exits == ["merge"]
    assert app.upstream("merge") == [f"score_{s}" for s in SITES]
    assert app.upstream("parse_frankfurt") == ["frankfurt"]
    assert app.downstream("frankfurt") == ["parse_frankfurt"]
    assert app.downstream("aggregate_oregon") == ["score_oregon"]
    assert app.downstream("merge") == []
    assert app.entry_tasks() == [f"parse_{s}" for s in SITES]
    assert app.has_estimates
    parse = app.tasks["parse_oregon"]
    assert isinstance(parse, TaskSpec)
    assert (parse.kind, parse.python_file, parse.python_function) == (
        "python",
        "tasks/parse.py",
        "parse",
    )
    assert parse.estimate_seconds == 0.005 and parse.estimate_output_bytes == 20000
    assert isinstance(app.sources["oregon"], SourceSpec)
    assert [p.name for p in app.sample_inputs("oregon")] == [
        "flows-0.log",
        "flows-1.log",
        "flows-2.log",
    ]


def test_wordcount_example_loads(examples: Path) -> None:
    app = load_app(examples / "wordcount-shell")
    assert app.topological_order() == ["words", "content", "top", "stats", "report"]
    assert all(task.kind == "command" for task in app.tasks.values())
    assert app.upstream("report") == ["stats", "top"]
    assert app.downstream("words") == ["content", "stats"]
    assert app.exits == ["report"]


def test_diamond_example_loads(examples: Path) -> None:
    app = load_app(examples / "diamond" / "app.yaml")  # the spec file works as well as its folder
    assert app.topological_order() == ["a", "b", "c", "d"]
    assert app.upstream("a") == ["numbers"]
    assert app.upstream("d") == ["b", "c"]
    assert app.downstream("a") == ["b", "c"]
    assert app.downstream("numbers") == ["a"]
    assert app.exits == ["d"]


def test_input_for_cycles_through_sorted_samples(examples: Path) -> None:
    app = load_app(examples / "diamond")
    samples = app.sample_inputs("numbers")
    assert samples == sorted(samples) and len(samples) == 3
    assert all(p.is_absolute() and p.is_file() for p in samples)
    assert [app.input_for("numbers", k) for k in range(7)] == [samples[k % 3] for k in range(7)]


def test_topological_order_follows_declaration_among_ready_tasks(write_app) -> None:
    app = write_app(
        """
        name: order
        sources:
          - {name: s, feeds: [z, a], inputs: ["in.txt"]}
        tasks:
          late: {command: "cat {inputs} > {out}", parents: [m, z]}
          z: {command: "cat {in:s} > {out}"}
          m: {command: "cat {in:a} > {out}", parents: [a]}
          a: {command: "cat {in:s} > {out}"}
        """,
        {"in.txt": "x\n"},
    )
    assert app.topological_order() == ["z", "a", "m", "late"]
    assert list(app.tasks) == app.topological_order()


def test_upstream_lists_parents_then_sources(write_app) -> None:
    app = write_app(
        """
        name: mixed
        sources:
          - {name: s2, feeds: [join, first], inputs: ["b.txt"]}
          - {name: s1, feeds: [join], inputs: ["a.txt"]}
        tasks:
          first: {command: "cat {in:s2} > {out}"}
          join: {command: "cat {inputs} > {out}", parents: [first]}
        """,
        {"a.txt": "a\n", "b.txt": "b\n"},
    )
    assert app.upstream("join") == ["first", "s2", "s1"]
    assert app.downstream("s2") == ["join", "first"]
    with pytest.raises(KeyError):
        app.downstream("nope")
    with pytest.raises(KeyError):
        app.upstream("s1")  # a source has no upstream


def test_default_exits_are_the_tasks_without_children(write_app) -> None:
    spec = """
        name: exits
        sources: [{name: s, feeds: [a], inputs: ["x.txt"]}]
        tasks:
          a: {command: "cat {in:s} > {out}"}
          b: {command: "cat {in:a} > {out}", parents: [a]}
          c: {command: "cat {in:a} > {out}", parents: [a]}
        """
    assert write_app(spec, {"x.txt": "1\n"}).exits == ["b", "c"]
    # An exit may also have children: its output goes both home and on.
    explicit = write_app(spec + "exits: [c, a, b]\n", {"x.txt": "1\n"})
    assert explicit.exits == ["c", "a", "b"]


def test_json_round_trip_keeps_everything(examples: Path) -> None:
    for name in ("anomaly-detection", "wordcount-shell", "diamond"):
        app = load_app(examples / name)
        data = json.loads(json.dumps(app.to_dict()))
        again = App.from_dict(data, str(app.root))
        assert again.to_dict() == app.to_dict()
        assert again.root == app.root
        assert again.tasks == app.tasks
        assert again.sources == app.sources
        assert [again.upstream(t) for t in again.tasks] == [app.upstream(t) for t in app.tasks]
        assert again.sample_inputs(next(iter(app.sources))) == app.sample_inputs(
            next(iter(app.sources))
        )


def test_to_dict_is_a_valid_app_yaml(examples: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(examples / "diamond", copy)
    app = load_app(copy)
    (copy / "app.yaml").write_text(yaml.safe_dump(app.to_dict(), sort_keys=False))
    assert load_app(copy).to_dict() == app.to_dict()


def test_from_dict_rechecks_the_graph(examples: Path) -> None:
    data = load_app(examples / "diamond").to_dict()
    data["tasks"]["a"]["parents"] = ["d"]
    with pytest.raises(SpecError) as caught:
        App.from_dict(data, examples / "diamond")
    assert caught.value.file == "<app dict>"
    assert "cycle" in caught.value.message


def test_missing_folder_and_missing_spec(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such app folder"):
        load_app(tmp_path / "absent")
    with pytest.raises(SpecError, match=r"no app\.yaml in this folder"):
        load_app(tmp_path)


def test_errors_carry_the_line_of_the_field(write_app) -> None:
    with pytest.raises(SpecError) as caught:
        write_app(
            """
            name: lines
            sources: [{name: s, feeds: [a], inputs: ["x.txt"]}]
            tasks:
              a:
                command: "cat {in:s} > {out}"
                node: ""
            """,
            {"x.txt": "1\n"},
        )
    assert caught.value.field == "tasks.a.node"
    assert caught.value.message == "must not be empty (line 7)"
    assert str(caught.value).endswith("app.yaml: tasks.a.node: must not be empty (line 7)")


def test_strings_are_not_coerced(write_app) -> None:
    with pytest.raises(SpecError) as caught:
        write_app(
            """
            name: yes
            sources: [{name: s, feeds: [a], inputs: ["x.txt"]}]
            tasks: {a: {command: "cat {in:s} > {out}"}}
            """
        )
    assert caught.value.field == "name"
    assert "expected a string, got true" in caught.value.message


def test_node_pins_are_kept(write_app) -> None:
    app = write_app(
        """
        name: pins
        sources: [{name: s, feeds: [a], inputs: ["x.txt"], node: edge-1}]
        tasks:
          a: {command: "cat {in:s} > {out}", node: n0}
        """,
        {"x.txt": "1\n"},
    )
    assert app.sources["s"].node == "edge-1"
    assert app.tasks["a"].node == "n0"
    assert not app.tasks["a"].has_estimate and not app.has_estimates
    assert App.from_dict(app.to_dict(), app.root).tasks["a"].node == "n0"


def test_function_found_by_ast_without_running_code(write_app, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    app = write_app(
        """
        name: noexec
        sources: [{name: s, feeds: [a, b, c, d], inputs: ["x.txt"]}]
        tasks:
          a: {python: "tasks/t.py:plain"}
          b: {python: "tasks/t.py:imported"}
          c: {python: "tasks/t.py:conditional"}
          d: {python: "tasks/t.py:decorated"}
        """,
        {
            "x.txt": "1\n",
            "tasks/t.py": f"""
                import functools
                from pathlib import Path
                from os.path import join as imported

                Path({str(marker)!r}).touch()

                def plain(inputs, output, *, verbose=False):
                    pass

                if True:
                    def conditional(*args):
                        pass

                @functools.lru_cache
                def decorated(x):
                    pass
                """,
        },
    )
    assert set(app.tasks) == {"a", "b", "c", "d"}
    assert not marker.exists()
