"""The command line's helpers: example inputs from a spec, and the demo."""
