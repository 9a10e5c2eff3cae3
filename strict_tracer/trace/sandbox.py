"""The undo log that keeps tracing from changing objects that existed before export().

The interpreter writes through to real objects (so native code reading them later sees the
current state) after recording the old state here; `restore()` replays the log backwards.
Objects created during tracing are marked fresh and never logged.
"""
from __future__ import annotations

import collections
import types
from typing import Any, Callable

_ABSENT = object()


def _current_attr(obj: Any, name: str) -> Any:
    """The value stored for obj.name in its own namespace (instance dict, or a slot / C data
    descriptor such as a function's __name__), not inherited; _ABSENT if there is none."""
    if issubclass(type(obj), type):
        return obj.__dict__.get(name, _ABSENT)
    try:
        namespace = object.__getattribute__(obj, "__dict__")
    except AttributeError:
        namespace = None
    if issubclass(type(namespace), dict) and name in namespace:
        return namespace[name]
    for klass in type(obj).__mro__:
        descr = klass.__dict__.get(name)
        if descr is not None:
            if issubclass(type(descr), (types.MemberDescriptorType, types.GetSetDescriptorType)):
                try:
                    return object.__getattribute__(obj, name)
                except AttributeError:
                    return _ABSENT
            break
    return _ABSENT


def native_slot(obj: Any, name: str, fallback: Any) -> Any:
    """The C-level setattr/delattr of obj's type (never a Python override, which would run
    user code outside the interpreter)."""
    if issubclass(type(obj), type):
        return getattr(type, name)
    for klass in type(obj).__mro__:
        slot = klass.__dict__.get(name)
        if issubclass(type(slot), types.WrapperDescriptorType):
            return slot
    return fallback


class UndoLog:
    def __init__(self) -> None:
        self._entries: list[tuple] = []
        self._logged_containers: set[int] = set()
        self._logged_attrs: set[tuple[int, str]] = set()
        self._logged_keys: set[tuple[int, Any]] = set()
        self._fresh: dict[int, int] = {}       # id -> creation time (see `clock`)
        self._keepalive: list[Any] = []
        self.clock = 0
        # Called before every write to an object (control-flow branches forbid writes to
        # objects older than the branch); None when writes are unrestricted.
        self.write_guard: Callable[[Any, str], None] | None = None

    def mark_fresh(self, obj: Any) -> None:
        """`obj` was created by the trace: mutations of it need no undo."""
        self._fresh[id(obj)] = self.clock
        self.clock += 1
        self._keepalive.append(obj)

    def fresh_since(self, obj: Any, time: int) -> bool:
        """Was `obj` created by the trace at or after `time` (a past value of `clock`)?"""
        return self._fresh.get(id(obj), -1) >= time

    def check_write(self, obj: Any, what: str) -> None:
        if self.write_guard is not None:
            self.write_guard(obj, what)

    def record_attr(self, obj: Any, name: str) -> None:
        self.check_write(obj, f"attribute '{name}'")
        key = (id(obj), name)
        if key in self._logged_attrs or id(obj) in self._fresh:
            return
        self._logged_attrs.add(key)
        old = _current_attr(obj, name)
        self._entries.append(("attr", obj, name, old))

    def before_mutation(self, container: Any) -> None:
        """Snapshot a list/dict/set/... before its first mutation by the trace."""
        self.check_write(container, "contents")
        ident = id(container)
        if ident in self._logged_containers or ident in self._fresh:
            return
        self._logged_containers.add(ident)
        if issubclass(type(container), collections.OrderedDict):
            # Its own order (move_to_end) is not the underlying dict's.
            snapshot = list(collections.OrderedDict.items(container))
        elif issubclass(type(container), dict):
            snapshot = dict(container)
            if issubclass(type(container), collections.defaultdict):
                snapshot = (snapshot, container.default_factory)
        elif issubclass(type(container), (list, bytearray, collections.deque)):
            snapshot = list(container)
        elif issubclass(type(container), set):
            snapshot = set(container)
        else:
            raise TypeError(f"cannot snapshot {type(container).__name__}")
        self._entries.append(("container", container, snapshot))

    def record_key(self, mapping: dict, key: Any) -> None:
        """Log one key of a large dict (module globals) instead of snapshotting all of it."""
        self.check_write(mapping, f"key {key!r}")
        ident = (id(mapping), key)
        if ident in self._logged_keys or id(mapping) in self._fresh or id(mapping) in self._logged_containers:
            return
        self._logged_keys.add(ident)
        self._entries.append(("key", mapping, key, mapping.get(key, _ABSENT)))

    def record_cell(self, cell: types.CellType) -> None:
        self.check_write(cell, "closure variable")
        ident = id(cell)
        if ident in self._logged_containers or ident in self._fresh:
            return
        self._logged_containers.add(ident)
        try:
            old = cell.cell_contents
        except ValueError:
            old = _ABSENT
        self._entries.append(("cell", cell, old))

    def record_context_var(self, token: Any) -> None:
        """A ContextVar.set() by the trace: undone with var.reset(token)."""
        self._entries.append(("contextvar", token))

    def restore(self) -> None:
        """Undo every logged change, newest first. One failing entry does not stop the rest;
        the first failure is re-raised at the end. An interrupt (KeyboardInterrupt) stops it
        with the entry being undone still logged: calling restore() again finishes the job
        (undoing an entry twice is harmless), which is what `restore_all` does."""
        failure: Exception | None = None
        entries = self._entries
        while entries:
            try:
                self._undo(entries[-1])
            except Exception as exc:  # noqa: BLE001 - keep restoring the other entries
                if failure is None:
                    failure = exc
            entries.pop()
        if failure is not None:
            raise failure

    def restore_all(self) -> None:
        """restore(), resumed after interrupts arriving meanwhile (re-raised at the end), so
        a Ctrl-C during export never leaves the user's objects half-restored."""
        pending: BaseException | None = None
        while True:
            try:
                self.restore()
                break
            except BaseException as exc:  # noqa: BLE001 - finish restoring, then re-raise
                if pending is None:
                    pending = exc
        if pending is not None:
            raise pending

    @staticmethod
    def _undo(entry: tuple) -> None:
        kind = entry[0]
        if kind == "contextvar":
            token = entry[1]
            try:
                token.var.reset(token)
            except (RuntimeError, ValueError):   # already reset by the program
                pass
        elif kind == "attr":
            _, obj, name, old = entry
            if old is _ABSENT:
                try:
                    native_slot(obj, "__delattr__", object.__delattr__)(obj, name)
                except AttributeError:
                    pass
            else:
                native_slot(obj, "__setattr__", object.__setattr__)(obj, name, old)
        elif kind == "container":
            _, container, snapshot = entry
            if issubclass(type(container), collections.OrderedDict):
                # dict.clear/dict.update would bypass (and corrupt) the OrderedDict's links.
                collections.OrderedDict.clear(container)
                for key, value in snapshot:
                    collections.OrderedDict.__setitem__(container, key, value)
            elif issubclass(type(container), dict):
                if issubclass(type(container), collections.defaultdict):
                    snapshot, factory = snapshot
                    container.default_factory = factory
                dict.clear(container)
                dict.update(container, snapshot)
            elif issubclass(type(container), collections.deque):
                collections.deque.clear(container)
                collections.deque.extend(container, snapshot)
            elif issubclass(type(container), set):
                set.clear(container)
                set.update(container, snapshot)
            elif issubclass(type(container), list):
                list.__setitem__(container, slice(None), snapshot)
            else:
                bytearray.__setitem__(container, slice(None), bytes(snapshot))
        elif kind == "key":
            _, mapping, key, old = entry
            if old is _ABSENT:
                mapping.pop(key, None)
            else:
                mapping[key] = old
        elif kind == "cell":
            _, cell, old = entry
            if old is _ABSENT:
                try:
                    del cell.cell_contents
                except ValueError:
                    pass
            else:
                cell.cell_contents = old
