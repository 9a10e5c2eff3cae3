"""Decoding of CPython 3.11, 3.12 and 3.13 code objects into a compact, cached instruction array.

This is the only module that knows a version's bytecode layout (CACHE entries, the exception
table, relative jumps, how an oparg packs its fields). Handlers see `Instr` objects whose `arg`
is already resolved (a name, a constant, a localsplus index, a jump target index) so the run
loop never re-decodes. Where one opcode means different operations depending on its oparg
(3.12's LOAD_ATTR method bit, 3.13's COMPARE_OP bool bit, CALL_INTRINSIC_1's intrinsic), the
decoder gives the instruction a refined dispatch `key` ("LOAD_ATTR:method"); the dispatch table
(core.HANDLERS) is keyed by it. `opname` stays the instruction as `dis` shows it.
"""
from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any, Callable

import bytecode as bc

from .versions import active

# Opcodes whose argument is an index into "localsplus" (fast locals, cells, free variables).
_LOCALSPLUS_OPS = frozenset(
    {"LOAD_FAST", "STORE_FAST", "DELETE_FAST", "MAKE_CELL", "LOAD_CLOSURE", "LOAD_DEREF",
     "STORE_DEREF", "DELETE_DEREF", "LOAD_CLASSDEREF", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR",
     "LOAD_FROM_DICT_OR_DEREF"}
)
# 3.13 superinstructions: two localsplus indices packed in 4 bits each (first = high bits).
_LOCALSPLUS_PAIR_OPS = frozenset({"LOAD_FAST_LOAD_FAST", "STORE_FAST_LOAD_FAST",
                                  "STORE_FAST_STORE_FAST"})

# The intrinsics of CALL_INTRINSIC_1/2 (Include/internal/pycore_intrinsics.h), by number.
INTRINSICS_1 = ("INTRINSIC_1_INVALID", "INTRINSIC_PRINT", "INTRINSIC_IMPORT_STAR",
                "INTRINSIC_STOPITERATION_ERROR", "INTRINSIC_ASYNC_GEN_WRAP",
                "INTRINSIC_UNARY_POSITIVE", "INTRINSIC_LIST_TO_TUPLE", "INTRINSIC_TYPEVAR",
                "INTRINSIC_PARAMSPEC", "INTRINSIC_TYPEVARTUPLE", "INTRINSIC_SUBSCRIPT_GENERIC",
                "INTRINSIC_TYPEALIAS")
INTRINSICS_2 = ("INTRINSIC_2_INVALID", "INTRINSIC_PREP_RERAISE_STAR",
                "INTRINSIC_TYPEVAR_WITH_BOUND", "INTRINSIC_TYPEVAR_WITH_CONSTRAINTS",
                "INTRINSIC_SET_FUNCTION_TYPE_PARAMS") + (
                    ("INTRINSIC_SET_TYPEPARAM_DEFAULT",) if active(since=(3, 13)) else ())


class Instr:
    """One decoded instruction. `handler` is filled in by the interpreter's dispatch table."""

    __slots__ = ("index", "opname", "key", "arg", "raw_arg", "offset", "lineno", "handler",
                 "argrepr", "inline", "operator")

    def __init__(self, index: int, opname: str, arg, raw_arg: int, offset: int, lineno: int | None,
                 argrepr: str, key: str | None = None):
        self.index = index
        self.opname = opname
        self.key = key or opname
        self.arg = arg
        self.raw_arg = raw_arg
        self.offset = offset
        self.lineno = lineno
        self.handler = None
        self.argrepr = argrepr
        self.inline = 0     # set with `handler`: the run loop's own code for LOAD_FAST & co
        self.operator = None    # BINARY_OP / COMPARE_OP: the operator function, set with it

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
    # lineno -> this code's entry in a node's stack_trace (node_stack.py makes them)
    stack_entries: dict[int | None, str] = field(repr=False, default_factory=dict)
    # ip -> the line a frame stopped at ip is on (Frame.lineno), made on first use
    lines: list[int] | None = field(repr=False, default=None)

    def index_of_offset(self, offset: int) -> int:
        return self.offset_to_index[offset]

    def line_table(self) -> list[int]:
        """`lines`: for each ip (0 .. len(instrs)), the line of instruction ip - 1 (of the
        first instruction at ip 0), or of the nearest instruction before it that has one;
        the code's first line when none has."""
        line, lines = self.code.co_firstlineno, []
        for instr in self.instrs:
            if instr.lineno is not None:
                line = instr.lineno
            lines.append(line)
        # ip 0 reads instruction 0 like ip 1 does (its line, or the first line)
        self.lines = lines = [lines[0] if lines else line, *lines]
        return lines


# ---------------------------------------------------------------------- per-version resolution
# opname -> resolver(raw oparg, the `bytecode` package's argument, code) -> (key, arg). Opcodes
# without a resolver keep the package's argument (labels become instruction indices).
Resolver = Callable[[int, Any, types.CodeType], "tuple[str | None, Any]"]
_RESOLVERS: dict[str, Resolver] = {}
# opname -> every dispatch key its instructions can decode to (when not just the opname).
REFINED_KEYS: dict[str, tuple[str, ...]] = {}


def _resolver(*opnames: str, since=None, until=None, keys: tuple[str, ...] = ()):
    def register(fn: Resolver) -> Resolver:
        if active(since, until):
            for name in opnames:
                _RESOLVERS[name] = fn
                if keys:
                    REFINED_KEYS[name] = keys
        return fn
    return register


@_resolver("KW_NAMES")
def _kw_names(raw, arg, code):
    return None, code.co_consts[raw]


@_resolver("COMPARE_OP", until=(3, 11))
def _compare_311(raw, arg, code):
    return None, raw


@_resolver("COMPARE_OP", since=(3, 12), until=(3, 12))
def _compare_312(raw, arg, code):
    return None, raw >> 4          # the low four bits are the specializer's mask


@_resolver("COMPARE_OP", since=(3, 13), keys=("COMPARE_OP", "COMPARE_OP:bool"))
def _compare_313(raw, arg, code):
    # Bit 4: convert the result with bool() (a compare feeding a conditional jump).
    return ("COMPARE_OP:bool" if raw & 16 else None), raw >> 5


@_resolver("LOAD_ATTR", since=(3, 12), keys=("LOAD_ATTR", "LOAD_ATTR:method"))
def _load_attr_312(raw, arg, code):
    # The low bit asks for a method load (3.11's LOAD_METHOD).
    return ("LOAD_ATTR:method" if raw & 1 else None), code.co_names[raw >> 1]


@_resolver("LOAD_SUPER_ATTR", since=(3, 12), keys=("LOAD_SUPER_ATTR", "LOAD_SUPER_ATTR:method"))
def _load_super_attr(raw, arg, code):
    # Bit 0: method load; bit 1: two-argument super(cls, obj) (else zero-argument super()).
    key = "LOAD_SUPER_ATTR:method" if raw & 1 else None
    return key, (code.co_names[raw >> 2], 2 if raw & 2 else 0)


@_resolver(*_LOCALSPLUS_PAIR_OPS, since=(3, 13))
def _localsplus_pair(raw, arg, code):
    return None, (raw >> 4, raw & 15)


@_resolver("CALL_INTRINSIC_1", since=(3, 12),
           keys=tuple(f"CALL_INTRINSIC_1:{name}" for name in INTRINSICS_1))
def _intrinsic_1(raw, arg, code):
    return f"CALL_INTRINSIC_1:{INTRINSICS_1[raw]}", raw


@_resolver("CALL_INTRINSIC_2", since=(3, 12),
           keys=tuple(f"CALL_INTRINSIC_2:{name}" for name in INTRINSICS_2))
def _intrinsic_2(raw, arg, code):
    return f"CALL_INTRINSIC_2:{INTRINSICS_2[raw]}", raw


# Where an exhausted FOR_ITER continues, in instructions past its jump target, the loop's
# END_FOR: 3.11 jumps past the loop; 3.12 skips END_FOR (ceval's JUMPBY(oparg + 1)), 3.13
# END_FOR and the POP_TOP after it (JUMPBY(oparg + 2)), popping the iterator itself. The decoded
# FOR_ITER targets that instruction, so one handler serves every version.
_FOR_ITER_EXIT: tuple[str, ...] = ()
if active(since=(3, 12)):
    _FOR_ITER_EXIT = ("END_FOR", "POP_TOP") if active(since=(3, 13)) else ("END_FOR",)


def _loop_exits(instrs: list[Instr]) -> None:
    if not _FOR_ITER_EXIT:
        return
    for instr in instrs:
        if instr.opname == "FOR_ITER":
            skipped = tuple(i.opname for i in instrs[instr.arg:instr.arg + len(_FOR_ITER_EXIT)])
            if skipped != _FOR_ITER_EXIT:
                raise AssertionError(f"FOR_ITER at {instr.offset} jumps to {skipped}, not "
                                     f"{_FOR_ITER_EXIT}")
            instr.arg += len(_FOR_ITER_EXIT)


def keys_of(opname: str) -> tuple[str, ...]:
    """The dispatch keys instructions named `opname` decode to on this version."""
    return REFINED_KEYS.get(opname, (opname,))


# ---------------------------------------------------------------------- decoding
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
    # Arguments captured by closures (and 3.12's inlined-comprehension variables that are
    # cells) are listed in both co_varnames and co_cellvars but share one slot.
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


def _concrete_offsets(concrete) -> tuple[list, list]:
    """(instruction, dis offset) of each real instruction, and its byte span (CACHE included)."""
    real, spans = [], []
    offset = 0
    for ci in concrete:
        size = ci.size
        if ci.name != "CACHE":
            # An EXTENDED_ARG prefix is merged into the instruction; dis reports the real one.
            real.append((ci, offset + size - 2))
            spans.append((offset, offset + size))
        else:
            spans[-1] = (spans[-1][0], offset + size)
        offset += size
    return real, spans


def _decode(code: types.CodeType) -> DecodedCode:
    concrete = bc.ConcreteBytecode.from_code(code)
    abstract = bc.Bytecode.from_code(code)
    concrete_real, spans = _concrete_offsets(concrete)

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
        key = None
        resolver = _RESOLVERS.get(ai.name)
        if resolver is not None:
            key, arg = resolver(raw, arg, code)
        elif ai.name in _LOCALSPLUS_OPS:
            arg = raw
        elif isinstance(arg, bc.Label):
            arg = label_targets[arg]
        lineno = ai.lineno if isinstance(ai.lineno, int) else None
        instrs.append(Instr(index, ai.name, arg, raw, real_offset, lineno,
                            _argrepr(ai.name, ai.arg), key))
    _loop_exits(instrs)

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
