"""The three examples, run task by task through the TaskRunner, for every sample input."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from jupiter.app.spec import load_app

# What the planted events in make_samples.py must produce, per input id.
ANOMALY_EXPECTED = {
    0: ({"10.2.0.37", "198.51.100.23"}, ["oregon", "singapore"]),
    1: ({"192.0.2.200", "198.51.100.23"}, ["frankfurt", "oregon"]),
    2: ({"10.1.0.52", "198.51.100.23"}, ["frankfurt", "oregon", "singapore"]),
}


@pytest.mark.parametrize("k", [0, 1, 2])
def test_diamond_computes_x_plus_1_times_x_plus_3(examples: Path, run_whole_app, k: int) -> None:
    app = load_app(examples / "diamond")
    outputs = run_whole_app(app, k)
    numbers = [int(n) for n in app.input_for("numbers", k).read_text().split()]
    assert numbers
    assert outputs["d"].read_text() == "".join(f"{(x + 1) * (x + 3)}\n" for x in numbers)


@pytest.mark.parametrize("k", [0, 1, 2])
def test_wordcount_matches_a_python_count(examples: Path, run_whole_app, k: int) -> None:
    app = load_app(examples / "wordcount-shell")
    outputs = run_whole_app(app, k)
    words = [w.lower() for w in re.findall(r"[A-Za-z]+", app.input_for("text", k).read_text())]
    stopwords = set((app.root / "stopwords.txt").read_text().split())
    counts = Counter(w for w in words if w not in stopwords)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:10]
    expected = [
        f"words: {len(words)}",
        f"distinct: {len(set(words))}",
        "top words (stopwords removed):",
        *(f"{i:2d}. {word:<16} {count}" for i, (word, count) in enumerate(top, 1)),
    ]
    assert outputs["report"].read_text().splitlines() == expected


@pytest.mark.parametrize("k", [0, 1, 2])
def test_anomaly_detection_finds_the_planted_events(examples: Path, run_whole_app, k: int) -> None:
    app = load_app(examples / "anomaly-detection")
    report = json.loads(run_whole_app(app, k)["merge"].read_text())
    flagged, scanned_sites = ANOMALY_EXPECTED[k]
    assert report["verdict"] == "alert"
    assert set(report["flagged_hosts"]) == flagged  # and nothing from the normal traffic
    assert [(h["host"], h["sites"]) for h in report["multi_site_hosts"]] == [
        ("198.51.100.23", scanned_sites)
    ]
    assert set(report["sites"]) == {"oregon", "frankfurt", "singapore"}
    assert all(site["malformed"] == 3 for site in report["sites"].values())
    assert all(site["flows"] > 150 for site in report["sites"].values())
    scores = [a["score"] for a in report["top_anomalies"]]
    assert scores == sorted(scores, reverse=True) and min(scores) >= 5.0


def test_anomaly_samples_are_what_the_generator_makes(examples: Path) -> None:
    folder = examples / "anomaly-detection"
    spec = importlib.util.spec_from_file_location("make_samples", folder / "make_samples.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for site in generator.SITES:
        for k in range(3):
            committed = (folder / "samples" / site / f"flows-{k}.log").read_text()
            assert committed == generator.make_sample(site, k)


def test_examples_stay_small(examples: Path) -> None:
    for app_folder in examples.iterdir():
        size = sum(p.stat().st_size for p in (app_folder / "samples").rglob("*") if p.is_file())
        assert 0 < size < 200_000, app_folder.name
