"""The platform side of operators: the contract, plugin loading, DAG checks and a local runtime."""
