"""Publication: the key layout, versions, per-attempt staging and the commit protocol."""
