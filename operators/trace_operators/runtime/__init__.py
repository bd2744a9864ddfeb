"""Running tasks: reading a task, the one task path, the local runner, signals, progress and logs."""
