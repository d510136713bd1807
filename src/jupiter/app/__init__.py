"""Jupiter apps: the app.yaml spec, its validation, and running one task on one input.

spec.py (App, TaskSpec, SourceSpec, load_app) is the public model; runner.py (TaskRunner,
TaskFailed) runs tasks; cli.py is `jupiter check`. The rest serves them: yamlio.py
(strict YAML), document.py (pydantic schema), validate.py and codecheck.py (the rules),
graph.py (ordering), placeholders.py (command templates), locate.py (error lines),
python_worker.py (the worker process). docs/writing-apps.md is the user's guide.
"""
