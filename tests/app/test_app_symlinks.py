"""Sample inputs that are symlinks out of the app folder are refused, as code files are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jupiter.app.spec import load_app
from jupiter.errors import SpecError

CORPUS = Path(__file__).parent / "bad_specs"


def test_a_samples_folder_linked_out_of_the_app_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text("not the app's\n")
    app = tmp_path / "app"
    shutil.copytree(CORPUS / "cycle" / "tasks", app / "tasks")
    (app / "samples").symlink_to(outside)
    (app / "app.yaml").write_text(
        "name: demo\nsources:\n  - name: feed\n    feeds: [first]\n"
        '    inputs: ["samples/*.txt"]\ntasks:\n  first:\n    python: tasks/step.py:step\n'
    )
    with pytest.raises(SpecError) as caught:
        load_app(app)
    assert caught.value.field == "sources[0].inputs"
    assert "samples/secret.txt resolves outside the app folder" in caught.value.message
    # The same file copied in (no link) is an ordinary sample.
    (app / "samples").unlink()
    shutil.copytree(outside, app / "samples")
    assert load_app(app).sample_inputs("feed")[0].name == "secret.txt"
