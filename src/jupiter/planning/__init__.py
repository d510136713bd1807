"""Pure planning: from an app, a cluster and a profile to the mapper's SchedulingProblem."""
