"""The `cryo` extractor: Cryo's Rust engine in a supervised child process (`import cryo` happens only there).

Empty on purpose: the child runs `python -m cryo_ingest.extract.cryo.child_main`, which imports this package
first and needs nothing of the parent's side. The extractor is `cryo_ingest.extract.cryo.extractor`.
"""
