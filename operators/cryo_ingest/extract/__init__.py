"""Extraction: what an extractor is asked for, and the two extractors (stub and Cryo)."""
