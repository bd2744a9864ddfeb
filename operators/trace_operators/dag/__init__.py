"""DAG documents: YAML with positions, the checks every DAG gets, and validation reports."""
