"""Benchmarks: each prints one JSON document on stdout and a short summary on stderr."""
