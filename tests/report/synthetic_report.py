"""A report.json of a large app, built from the model: `tasks` tasks in random layers (seeded)
on `nodes` nodes over the 8 default regions, every task run for each input."""

from __future__ import annotations

import random

from tests.report.report_samples import sample_document, stats_record

from jupiter.report.model import Report

REGIONS = ("sfo", "nyc", "lon", "fra", "sgp", "syd", "tok", "sao")


def large_report(tasks: int, nodes: int, inputs: int = 3, seed: int = 7) -> Report:
    rng = random.Random(seed)
    names = [f"n{i:03d}" for i in range(nodes)]
    dag: dict[str, list[str]] = {"src0": [], "src1": []}
    layer = ["src0", "src1"]
    made = 0
    while made < tasks:
        width = min(rng.randint(3, 25), tasks - made)
        new = [f"t{made + i:03d}" for i in range(width)]
        for task in new:
            dag[task] = sorted(rng.sample(layer, min(len(layer), rng.randint(1, 3))))
        made += width
        layer = new
    mapping = {task: names[i % nodes] for i, task in enumerate(dag)}
    finish: dict[str, float] = {}
    schedule = []
    for task, parents in dag.items():  # parents come first: insertion order is topological
        start = max((finish[p] + 0.01 for p in parents), default=0.0)
        finish[task] = start + (0.0 if task.startswith("src") else 0.02)
        schedule.append(
            {"task": task, "node": mapping[task], "start": start, "finish": finish[task]}
        )
    document = sample_document()
    document.update(
        app="large",
        nodes=[{"name": n, "region": REGIONS[i % 8], "speed": 1.0} for i, n in enumerate(names)],
        sources=["src0", "src1"],
        mapping=mapping,
        dag=dag,
        predicted_schedule=schedule,
        predicted_makespan=max(finish.values()),
        execution={},
        inputs=[
            {
                "id": k,
                "injected_at": 100.0 + k,
                "completed_at": 100.0 + k + max(finish.values()) * 1.5,
                "makespan": max(finish.values()) * 1.5,
                "outputs": {},
                "nodes": sorted(set(mapping.values())),
            }
            for k in range(inputs)
        ],
        stats=[
            stats_record(
                task,
                k,
                mapping[task],
                100.0 + k + run["start"] * 1.5,
                100.0 + k + run["start"] * 1.5,
                100.0 + k + run["finish"] * 1.5,
            )
            for k in range(inputs)
            for task, run in ((r["task"], r) for r in schedule)
        ],
    )
    return Report.model_validate(document)
