"""Checks on what users hand to scslab: files to read and values for model fields.

They are shared by the scenario loader, the law files and the run-directory readers.

- Files: only regular files are read. A named pipe would block ``open()`` forever, a
  device (``/dev/zero``) never ends, a directory or a socket cannot be read at all;
  :func:`read_regular` opens without blocking and refuses them before reading a byte.
- Values: pydantic's lax mode reads ``true`` as 1.0 in a number field and ``1`` as
  ``True`` in a yes/no field. :class:`StrictScalars` refuses both, for every field of
  every model that derives from it, from YAML files and ``--set`` alike.
"""

from __future__ import annotations

import os
import stat
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import BaseModel, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

# --------------------------------------------------------------------------- files


class NotRegularFile(Exception):  # noqa: N818 - reads as "is not a regular file"
    """``path`` exists but is a pipe, a device, a socket or a directory."""

    def __init__(self, path: str | os.PathLike, kind: str) -> None:
        """``kind`` says what ``path`` is instead ('a named pipe', …)."""
        super().__init__(f"{path} is not a regular file ({kind})")
        self.path = path
        self.kind = kind


def file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is ('a named pipe', 'a directory', …)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def not_regular(path: str | os.PathLike) -> str | None:
    """What ``path`` is when it exists and is not a regular file (symlinks followed)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return file_kind(st.st_mode)


def check_regular(path: str | os.PathLike) -> None:
    """Raise NotRegularFile when ``path`` exists and is not a regular file."""
    kind = not_regular(path)
    if kind is not None:
        raise NotRegularFile(path, kind)


def read_regular(path: str | os.PathLike, limit: int) -> bytes:
    """At most ``limit + 1`` bytes of the regular file ``path``.

    Opens without blocking (a named pipe with no writer would block ``open()``), then
    checks what was opened, so the answer holds even if the path changes in between.

    Raises:
        NotRegularFile: a pipe, device, socket or directory.
        OSError: missing, unreadable, a path through a file (``file.yaml/x.yaml``) …
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        kind = not_regular(path)  # a socket cannot be opened at all (ENXIO)
        if kind is not None:
            raise NotRegularFile(path, kind) from None
        raise e from None
    try:
        kind = file_kind(os.fstat(fd).st_mode)
        if kind is not None:
            raise NotRegularFile(path, kind)
        os.set_blocking(fd, True)
        chunks, left = [], limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def why_missing(path: str | os.PathLike) -> str | None:
    """Why a path that does not exist cannot: 'x.yaml is a file, not a folder', or None.

    The reason is given when a parent is a file (``file.yaml/x.yaml``).
    """
    p = Path(path)
    for parent in p.parents:
        kind = not_regular(parent)
        if kind is None and parent.exists():  # a regular file in the middle of the path
            return f"{parent} is a file, not a folder"
        if kind == "a directory":
            return None
    return None


# --------------------------------------------------------------------------- values

#: the pydantic error type of a refused boolean/number; ``ctx`` holds ``reason`` (the
#: message) and ``subpath`` (the key or index inside a mapping or list field)
STRICT_ERROR = "scslab_strict_type"

_NONE = type(None)


def _strip(tp: Any) -> Any:
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _is_bool(v: Any) -> bool:
    t = type(v)  # numpy.bool_ (named numpy.bool since NumPy 2) too
    return isinstance(v, bool) or (t.__module__ == "numpy" and t.__name__ in ("bool", "bool_"))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _show(v: Any) -> str:
    if _is_bool(v):
        return "true" if v else "false"
    text = repr(v)
    return text if len(text) <= 40 else text[:39] + "…"


def _scalar_problem(value: Any, tp: Any) -> str | None:
    """Why ``value`` is refused for the scalar type ``tp`` (or a union of scalars)."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = {_strip(a) for a in typing.get_args(tp)}
        if value is None and _NONE in args:
            return None
        wanted = args - {_NONE}
        if not wanted or not wanted <= {bool, int, float}:
            return None  # a union of other kinds: pydantic's own checks decide
    else:
        wanted = {tp}
    if _is_bool(value) and bool not in wanted and wanted & {int, float}:
        expected = "a number" if float in wanted else "an integer"
        return f"{_show(value)} is a boolean, expected {expected}"
    if _is_number(value) and wanted == {bool}:
        return f"{_show(value)} is a number, expected true or false"
    return None


def disguised_type(value: Any, tp: Any, subpath: tuple = ()) -> tuple[tuple, str] | None:
    """(subpath, reason) for the first boolean given for a number in ``value``, or None.

    Also a number given for a yes/no; ``value`` is read against the annotation ``tp``.
    Mappings and lists are searched item by item; nested models check their own fields.
    """
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return None
    reason = _scalar_problem(value, tp)
    if reason is not None:
        return subpath, reason
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        for k, v in value.items():
            key_reason = _scalar_problem(k, _strip(args[0]))
            if key_reason is not None:
                return subpath, f"key {key_reason}"
            found = disguised_type(v, args[1], (*subpath, str(k)))
            if found:
                return found
    elif origin in (list, tuple, set, frozenset) and args and isinstance(value, list | tuple):
        variadic = origin is not tuple or (len(args) == 2 and args[1] is Ellipsis)
        for i, v in enumerate(value):
            if not variadic and i >= len(args):
                break
            found = disguised_type(v, args[0] if variadic else args[i], (*subpath, i))
            if found:
                return found
    return None


class StrictScalars(BaseModel):
    """Refuse ``true`` for a number and ``1`` for a yes/no, in every field of a model.

    A ``mode="before"`` validator on all fields reads each field's annotation (through
    ``Annotated``, ``X | None``, ``dict[K, V]`` and ``list[V]``); nested models check
    their own fields the same way. Everything else is left to pydantic.
    """

    @field_validator("*", mode="before")
    @classmethod
    def _strict_scalars(cls, value: Any, info: ValidationInfo) -> Any:
        f = cls.model_fields.get(info.field_name) if info.field_name else None
        if f is None:
            return value
        found = disguised_type(value, f.annotation)
        if found is not None:
            subpath, reason = found
            where = ".".join(str(p) for p in subpath)
            raise PydanticCustomError(STRICT_ERROR, "{where}{reason}",
                                      {"where": f"{where}: " if where else "",
                                       "reason": reason, "subpath": list(subpath)})
        return value
