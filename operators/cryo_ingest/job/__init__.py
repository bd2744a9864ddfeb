"""The job block: its config as types, its rules, and its resolution against the environment."""
