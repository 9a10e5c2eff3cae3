"""The trace: the graph being built, symbolic-size nodes, the trace state, the sandbox,
nested graphs for operator bodies, and the bookkeeping nodes carry (autocast, source fns)."""
