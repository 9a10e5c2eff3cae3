"""The differential corpus: small programs run by CPython and by strict_tracer.

Each module holds plain functions decorated with `@program(argsets...)` (run by CPython and by
`run_python`; results or raised exceptions must agree) or `@tensor_program(make_inputs)`
(wrapped in an nn.Module, exported and compared with eager). `tests/test_corpus.py` collects
them; see `support.py`.
"""
