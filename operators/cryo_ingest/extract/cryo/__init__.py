"""The `cryo` extractor: Cryo's Rust engine in a supervised child process."""
