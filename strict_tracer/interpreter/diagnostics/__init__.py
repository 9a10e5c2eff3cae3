"""Diagnostics: locations of refusals, the bytecode log, explain() recovery and evidence, and
the observed run loop they run in."""
