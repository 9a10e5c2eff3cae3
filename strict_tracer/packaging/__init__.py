"""Packaging: our symbols become torch ShapeEnv symbols, the graph an ExportedProgram, checked
before it is returned (artifact_check)."""
