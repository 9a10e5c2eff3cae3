"""Helpers shared by the tests: comparisons with eager and torch.export, bytecode layouts,
models used by several test files."""
