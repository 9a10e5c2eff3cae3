"""Lookasides: handlers and polyfills that replace natives which would call back into the
program (builtins, sorted/min/max keys, map/filter, itertools, ...), and the re-entry adapters."""
