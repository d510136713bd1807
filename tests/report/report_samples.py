"""A small report.json document written out by hand: a 2-node, 2-input diamond run."""

from __future__ import annotations

from typing import Any


def stats_record(task: str, input_id: int, node: str, enter: float, start: float, finish: float):
    return {
        "task": task,
        "input_id": input_id,
        "node": node,
        "enter": enter,
        "ready": enter,
        "start": start,
        "finish": finish,
        "output_bytes": 8,
        "failed": None,
        "attempts": 1,
        "cpu": None,
        "waiting": start - enter,
        "queued": start - enter,
        "duration": finish - start,
        "elapse": finish - enter,
    }


def sample_document() -> dict[str, Any]:
    return {
        "version": 1,
        "status": "completed",
        "error": None,
        "run_id": "ab12cd34",
        "app": "diamond",
        "mapper": "heft",
        "nodes": [
            {"name": "n00", "region": "sfo", "speed": 1.0},
            {"name": "n01", "region": "nyc", "speed": 0.5},
        ],
        "emulated": True,
        "sources": ["numbers"],
        "mapping": {"numbers": "n00", "a": "n00", "d": "n01"},
        "predicted_makespan": 0.25,
        "predicted_schedule": [
            {"task": "numbers", "node": "n00", "start": 0.0, "finish": 0.0},
            {"task": "a", "node": "n00", "start": 0.0, "finish": 0.1},
            {"task": "d", "node": "n01", "start": 0.15, "finish": 0.25},
        ],
        "figure_sources": {"compute": "app.yaml estimates", "links": "default link table"},
        "execution": {
            "a": {
                "profiled": None,
                "measured": {"n00": {"runs": 2, "median": 0.1, "mean": 0.1, "profiled": None}},
            },
            "d": {"profiled": None, "measured": {}},
        },
        "profile": None,
        "inputs": [
            {
                "id": 0,
                "injected_at": 100.0,
                "completed_at": 100.5,
                "makespan": 0.5,
                "outputs": {"d": "/out/0/d"},
                "nodes": ["n00", "n01"],
            },
            {
                "id": 1,
                "injected_at": 100.25,
                "completed_at": 101.0,
                "makespan": 0.75,
                "outputs": {"d": "/out/1/d"},
                "nodes": ["n00", "n01"],
            },
        ],
        "failed_inputs": [],
        "makespan": {"mean": 0.625, "median": 0.625, "min": 0.5, "max": 0.75},
        "recovery": {"epochs": [], "replayed_inputs": []},
        "throughput": {
            "inputs": 2,
            "seconds": 1.0,
            "per_second": 2.0,
            "median_completion_gap": 0.5,
        },
        "stream_prediction": None,
        "phases": {
            "deploy": 0.5,
            "profile": 0.0,
            "map": 0.01,
            "dispatch": 0.02,
            "stream": 1.0,
            "teardown": 0.25,
        },
        "duplicates": [],
        "stats": [
            stats_record("numbers", 0, "n00", 100.0, 100.0, 100.0),
            stats_record("a", 0, "n00", 100.0, 100.0, 100.25),
            stats_record("d", 0, "n01", 100.25, 100.3, 100.5),
            stats_record("a", 1, "n00", 100.25, 100.25, 100.5),
            stats_record("d", 1, "n01", 100.5, 100.75, 101.0),
        ],
    }
