"""`cryo-ingest follow`: a job driven by its cron or threshold trigger, up to the chain's safe head, in block order."""
