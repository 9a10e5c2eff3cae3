"""The Python object model inside the interpreter: operator and iteration protocols,
attributes and descriptors, classes, generators, copies, tracebacks."""
