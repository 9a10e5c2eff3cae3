"""Handlers: stack shuffles, constants, locals, globals, names, cells."""
from __future__ import annotations

import types

from ..registry import handler
from ..frame import NULL, UNBOUND, load_global


@handler("PRECALL", until=(3, 11))
@handler("NOP", "RESUME", "EXTENDED_ARG", "CACHE")
def op_nop(interp, frame, instr):
    pass


@handler("POP_TOP")
def op_pop_top(interp, frame, instr):
    frame.stack.pop()


@handler("PUSH_NULL")
def op_push_null(interp, frame, instr):
    frame.stack.append(NULL)


@handler("COPY")
def op_copy(interp, frame, instr):
    frame.stack.append(frame.stack[-instr.arg])


@handler("SWAP")
def op_swap(interp, frame, instr):
    stack = frame.stack
    i = instr.arg
    stack[-1], stack[-i] = stack[-i], stack[-1]


@handler("LOAD_CONST")
def op_load_const(interp, frame, instr):
    frame.stack.append(instr.arg)


@handler("LOAD_FAST_CHECK", since=(3, 12))
@handler("LOAD_FAST")
def op_load_fast(interp, frame, instr):
    value = frame.localsplus[instr.arg]
    if value is UNBOUND:
        name = frame.decoded.localsplus_names[instr.arg]
        raise UnboundLocalError(f"cannot access local variable '{name}' where it is not "
                                "associated with a value")
    frame.stack.append(value)


@handler("STORE_FAST")
def op_store_fast(interp, frame, instr):
    frame.localsplus[instr.arg] = frame.stack.pop()


@handler("DELETE_FAST")
def op_delete_fast(interp, frame, instr):
    if frame.localsplus[instr.arg] is UNBOUND:
        name = frame.decoded.localsplus_names[instr.arg]
        raise UnboundLocalError(f"cannot access local variable '{name}' where it is not "
                                "associated with a value")
    frame.localsplus[instr.arg] = UNBOUND


@handler("LOAD_GLOBAL", until=(3, 12))
def op_load_global(interp, frame, instr):
    push_null, name = instr.arg
    if push_null:
        frame.stack.append(NULL)
    frame.stack.append(load_global(frame, name))


@handler("STORE_GLOBAL")
def op_store_global(interp, frame, instr):
    interp.state.sandbox.record_key(frame.globals, instr.arg)
    frame.globals[instr.arg] = frame.stack.pop()


@handler("DELETE_GLOBAL")
def op_delete_global(interp, frame, instr):
    if instr.arg not in frame.globals:
        raise NameError(f"name '{instr.arg}' is not defined")
    interp.state.sandbox.record_key(frame.globals, instr.arg)
    del frame.globals[instr.arg]


@handler("LOAD_NAME")
def op_load_name(interp, frame, instr):
    name = instr.arg
    namespace = frame.locals_dict
    if namespace is not None:
        try:
            frame.stack.append(namespace[name])
            return
        except KeyError:
            pass
    frame.stack.append(load_global(frame, name))


@handler("STORE_NAME")
def op_store_name(interp, frame, instr):
    value = frame.stack.pop()
    if frame.locals_dict is None:
        interp.state.sandbox.record_key(frame.globals, instr.arg)
        frame.globals[instr.arg] = value
    else:
        interp.store_subscr(frame.locals_dict, instr.arg, value)


@handler("DELETE_NAME")
def op_delete_name(interp, frame, instr):
    namespace = frame.locals_dict if frame.locals_dict is not None else frame.globals
    if instr.arg not in namespace:
        raise NameError(f"name '{instr.arg}' is not defined")
    interp.delete_subscr(namespace, instr.arg)


@handler("MAKE_CELL")
def op_make_cell(interp, frame, instr):
    value = frame.localsplus[instr.arg]
    cell = types.CellType() if value is UNBOUND else types.CellType(value)
    interp.state.sandbox.mark_fresh(cell)
    frame.localsplus[instr.arg] = cell


@handler("COPY_FREE_VARS")
def op_copy_free_vars(interp, frame, instr):
    closure = frame.function.__closure__
    n = instr.arg
    offset = frame.decoded.nlocalsplus - n
    for i in range(n):
        frame.localsplus[offset + i] = closure[i]


@handler("LOAD_CLOSURE", until=(3, 12))
def op_load_closure(interp, frame, instr):
    frame.stack.append(frame.localsplus[instr.arg])


def cell_value(frame, index):
    try:
        return frame.localsplus[index].cell_contents
    except ValueError:
        name = frame.decoded.localsplus_names[index]
        if index >= frame.decoded.nlocalsplus - len(frame.code.co_freevars):
            raise NameError(f"cannot access free variable '{name}' where it is not associated "
                            "with a value in enclosing scope") from None
        raise UnboundLocalError(f"cannot access local variable '{name}' where it is not "
                                "associated with a value") from None


@handler("LOAD_DEREF")
def op_load_deref(interp, frame, instr):
    frame.stack.append(cell_value(frame, instr.arg))


@handler("LOAD_CLASSDEREF", until=(3, 11))
def op_load_classderef(interp, frame, instr):
    name = frame.decoded.localsplus_names[instr.arg]
    namespace = frame.locals_dict
    if namespace is not None and name in namespace:
        frame.stack.append(namespace[name])
        return
    frame.stack.append(cell_value(frame, instr.arg))


@handler("STORE_DEREF")
def op_store_deref(interp, frame, instr):
    cell = frame.localsplus[instr.arg]
    interp.state.sandbox.record_cell(cell)
    cell.cell_contents = frame.stack.pop()


@handler("DELETE_DEREF")
def op_delete_deref(interp, frame, instr):
    cell = frame.localsplus[instr.arg]
    cell_value(frame, instr.arg)
    interp.state.sandbox.record_cell(cell)
    del cell.cell_contents
