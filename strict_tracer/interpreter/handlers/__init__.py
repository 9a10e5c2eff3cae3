"""Opcode handlers by family: stack and names, control flow, building containers, calls, and
the 3.12/3.13 forms. Each registers itself (registry.handler) when imported."""
