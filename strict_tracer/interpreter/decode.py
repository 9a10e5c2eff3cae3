"""Decoding of CPython 3.11 code objects into a compact, cached instruction array.

This is the only module that knows the 3.11 bytecode layout (CACHE entries, the exception
table, relative jumps). Handlers see `Instr` objects whose `arg` is already resolved (a name,
a constant, a localsplus index, a jump target index) so the run loop never re-decodes.
"""
from __future__ import annotations

import dis
import sys
import types
from dataclasses import dataclass, field

import bytecode as bc

if sys.version_info[:2] != (3, 11):  # pragma: no cover - the machines run 3.11
    raise ImportError("strict_tracer's interpreter decodes CPython 3.11 bytecode only")

# Opcodes whose argument is an index into "localsplus" (fast locals, cells, free variables).
_LOCALSPLUS_OPS = frozenset(
    {"LOAD_FAST", "STORE_FAST", "DELETE_FAST", "MAKE_CELL", "LOAD_CLOSURE", "LOAD_DEREF",
     "STORE_DEREF", "DELETE_DEREF", "LOAD_CLASSDEREF"}
)


class Instr:
    """One decoded instruction. `handler` is filled in by the interpreter's dispatch table."""

    __slots__ = ("index", "opname", "arg", "raw_arg", "offset", "lineno", "handler", "argrepr")

    def __init__(self, index: int, opname: str, arg, raw_arg: int, offset: int, lineno: int | None,
                 argrepr: str):
        self.index = index
        self.opname = opname
        self.arg = arg
        self.raw_arg = raw_arg
        self.offset = offset
        self.lineno = lineno
        self.handler = None
        self.argrepr = argrepr

    def __repr__(self) -> str:
        return f"{self.offset:>4} {self.opname} {self.argrepr}".rstrip()


@dataclass(frozen=True)
class ExceptionHandler:
    target: int          # instruction index of the handler
    depth: int           # value-stack depth to unwind to
    push_lasti: bool     # push the offset of the raising instruction before the exception


@dataclass
class DecodedCode:
    code: types.CodeType
    instrs: list[Instr]
    handlers: list[ExceptionHandler | None]     # per instruction index
    localsplus_names: tuple[str, ...]
    cell_indices: frozenset[int]                # localsplus slots that hold cells
    nlocalsplus: int
    offset_to_index: dict[int, int] = field(repr=False, default_factory=dict)

    def index_of_offset(self, offset: int) -> int:
        return self.offset_to_index[offset]


# Keyed by identity: code objects compare equal across files (co_filename is not part of
# equality), and an equal code object's constants (nested code) carry the other file's name.
# DecodedCode.code keeps the key's object alive, so an id is never reused while cached.
_cache: dict[int, DecodedCode] = {}


def decode(code: types.CodeType) -> DecodedCode:
    """Decode `code` once; later calls return the cached result."""
    decoded = _cache.get(id(code))
    if decoded is None:
        decoded = _decode(code)
        _cache[id(code)] = decoded
    return decoded


def _localsplus_names(code: types.CodeType) -> tuple[str, ...]:
    names = list(code.co_varnames)
    names += [c for c in code.co_cellvars if c not in code.co_varnames]
    names += list(code.co_freevars)
    return tuple(names)


def _argrepr(name: str, arg) -> str:
    if isinstance(arg, bc.Label) or arg is bc.UNSET:
        return ""
    if isinstance(arg, (bc.CellVar, bc.FreeVar)):
        return arg.name
    if isinstance(arg, tuple) and name in ("LOAD_GLOBAL",):
        return ("NULL + " if arg[0] else "") + arg[1]
    if hasattr(arg, "name") and not isinstance(arg, types.CodeType):
        return str(getattr(arg, "name"))
    text = repr(arg)
    return text if len(text) <= 60 else text[:57] + "..."


def _decode(code: types.CodeType) -> DecodedCode:
    concrete = bc.ConcreteBytecode.from_code(code)
    abstract = bc.Bytecode.from_code(code)

    # Offsets of concrete instructions (CACHE entries included in the offset arithmetic).
    concrete_real = []
    offset = 0
    spans = []
    for ci in concrete:
        size = ci.size
        if ci.name != "CACHE":
            # An EXTENDED_ARG prefix is merged into the instruction; dis reports the real one.
            concrete_real.append((ci, offset + size - 2))
            spans.append((offset, offset + size))
        else:
            spans[-1] = (spans[-1][0], offset + size)
        offset += size

    label_targets: dict[bc.Label, int] = {}
    abstract_instrs = []
    for item in abstract:
        if isinstance(item, bc.Label):
            label_targets[item] = len(abstract_instrs)
        elif isinstance(item, bc.Instr):
            abstract_instrs.append(item)
    if len(abstract_instrs) != len(concrete_real):
        raise AssertionError(f"bytecode decoding mismatch in {code.co_name}")

    instrs: list[Instr] = []
    offset_to_index: dict[int, int] = {}
    for index, (ai, (ci, real_offset)) in enumerate(zip(abstract_instrs, concrete_real)):
        if ai.name != ci.name:
            raise AssertionError(f"bytecode decoding mismatch: {ai.name} vs {ci.name}")
        start, end = spans[index]
        for o in range(start, end, 2):
            offset_to_index[o] = index
        arg = ai.arg
        raw = ci.arg if isinstance(ci.arg, int) else 0
        if ai.name in _LOCALSPLUS_OPS:
            arg = raw
        elif isinstance(arg, bc.Label):
            arg = label_targets[arg]
        elif ai.name == "KW_NAMES":
            arg = code.co_consts[raw]
        lineno = ai.lineno if isinstance(ai.lineno, int) else None
        instrs.append(Instr(index, ai.name, arg, raw, real_offset, lineno, _argrepr(ai.name, ai.arg)))

    handlers: list[ExceptionHandler | None] = [None] * len(instrs)
    for entry in concrete.exception_table:
        handler = ExceptionHandler(offset_to_index[2 * entry.target], entry.stack_depth, entry.push_lasti)
        # The table counts 2-byte code units; stop_offset is inclusive.
        first = offset_to_index[2 * entry.start_offset]
        last = offset_to_index[2 * entry.stop_offset]
        for i in range(first, last + 1):
            handlers[i] = handler

    names = _localsplus_names(code)
    cells = frozenset(names.index(c) for c in code.co_cellvars) | frozenset(
        range(len(names) - len(code.co_freevars), len(names)))
    return DecodedCode(code, instrs, handlers, names, cells, len(names), offset_to_index)


def opname_of(opcode: int) -> str:
    return dis.opname[opcode]
