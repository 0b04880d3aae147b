"""Load scenarios: safe YAML, ``base:`` inheritance, ``--set`` overrides, clear errors."""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import math
import warnings
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from scslab.errors import ScenarioError
from scslab.inputs import STRICT_ERROR, NotRegularFile, read_regular, why_missing
from scslab.scenario.refs import did_you_mean
from scslab.scenario.schema import Scenario
from scslab.scenario.yamlio import (  # noqa: F401 - _StrictLoader: re-exported for tests
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_NODES,
    Replace,
    _load_yaml,
    _StrictLoader,
    plain,
)

#: Scenario files are a few kB (the fully resolved national preset is ~8 kB, ~730
#: YAML nodes). The limits below are far above that and keep the pure-Python YAML
#: parser's worst case (a megabyte of tiny values) to a couple of seconds.
MAX_FILE_BYTES = 1_000_000
MAX_BASE_CHAIN = 16


# --------------------------------------------------------------------------- YAML


def _depth(obj: Any, limit: int = MAX_DEPTH) -> int:
    stack = [(obj, 1)]
    deepest = 0
    while stack:
        cur, d = stack.pop()
        deepest = max(deepest, d)
        if d > limit:
            return d
        if isinstance(cur, dict):
            stack.extend((v, d + 1) for v in cur.values())
        elif isinstance(cur, list):
            stack.extend((v, d + 1) for v in cur)
    return deepest


def _kind(value: Any) -> str:
    """'an int (42)', 'a list', … for messages about the top level."""
    name = type(value).__name__
    article = "an" if name[0] in "aeiou" else "a"
    if isinstance(value, str | int | float | bool):
        text = repr(value)
        return f"{article} {name} ({text[:40] + '…' if len(text) > 40 else text})"
    return f"{article} {name}"


def parse_yaml_text(text: str | bytes, origin: str) -> dict:
    """Parse scenario YAML; the top level must be a mapping."""
    if isinstance(text, bytes):
        if len(text) > MAX_FILE_BYTES:
            raise ScenarioError(f"{origin}: file is larger than {MAX_FILE_BYTES:,} bytes, the "
                                "limit for scenario files")
        if text.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise ScenarioError(f"{origin}: the file is UTF-16 (or UTF-32); save it as UTF-8")
        if b"\x00" in text:
            raise ScenarioError(f"{origin}: file contains NUL bytes; it is not a text YAML file")
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ScenarioError(f"{origin}: not valid UTF-8 (byte {e.start}); save the file "
                                "as UTF-8") from None
    elif len(text) > MAX_FILE_BYTES:
        raise ScenarioError(f"{origin}: text is {len(text):,} characters; scenario files are "
                            f"limited to {MAX_FILE_BYTES:,} bytes")
    elif "\x00" in text:
        raise ScenarioError(f"{origin}: text contains NUL characters")
    try:
        data = _load_yaml(text)
    except ScenarioError as e:
        raise ScenarioError(f"{origin}: {e}") from None
    except RecursionError:
        raise ScenarioError(f"{origin}: nesting too deep (limit {MAX_DEPTH} levels)") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError(f"{origin}: not valid YAML{where}: {problem}") from None
    except (ValueError, TypeError, OverflowError) as e:
        raise ScenarioError(f"{origin}: unreadable value: {str(e)[:200]}") from None
    if data is None:
        if any(line.strip() and not line.lstrip().startswith("#")
               for line in text.splitlines()):
            raise ScenarioError(f"{origin}: the top level is null; a scenario is a YAML "
                                "mapping of keys to values (e.g. `days: 365`)")
        raise ScenarioError(f"{origin}: the file is empty; a scenario is a YAML mapping "
                            "(e.g. `days: 365`)")
    if not isinstance(data, dict):
        raise ScenarioError(f"{origin}: the top level must be a mapping of keys to values, "
                            f"not {_kind(data)}")
    if _depth(data) > MAX_DEPTH:
        raise ScenarioError(f"{origin}: nesting too deep (limit {MAX_DEPTH} levels)")
    return data


# --------------------------------------------------------------------------- presets


def _preset_dir():
    return resources.files("scslab.scenario").joinpath("presets")


def preset_names() -> list[str]:
    """Names of the scenarios shipped in the package."""
    return sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".yaml"))


def preset_text(name: str) -> str:
    """The YAML text of the shipped preset ``name``."""
    return _preset_dir().joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def preset_description(name: str) -> str:
    """The first line of a preset's ``description`` ("" when it has none)."""
    data = parse_yaml_text(preset_text(name), f"preset {name}")
    return str(data.get("description", "")).strip().splitlines()[0] if data.get(
        "description") else ""


def _read_ref(ref: str | Path, relative_to: Path | None) -> tuple[dict, Path | None, str]:
    """Raw mapping for a preset name or a file path, its folder and a label."""
    ref_s = str(ref)
    if ref_s in preset_names():
        return parse_yaml_text(preset_text(ref_s), f"preset {ref_s}"), None, f"preset {ref_s}"
    if "\x00" in ref_s:
        raise ScenarioError(f"{_clip(repr(ref_s))} is not a valid file name (it contains a "
                            "NUL character)")
    path = Path(ref_s)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    try:
        exists = path.exists()
    except OSError as e:  # e.g. ENAMETOOLONG
        raise ScenarioError(f"{_clip(ref_s)}: cannot be used as a file name "
                            f"({e.strerror or e}); give a preset name or a YAML file") from None
    if not exists:
        hint = did_you_mean(ref_s, preset_names())
        through_file = why_missing(path)
        if through_file:
            raise ScenarioError(f"scenario file {_clip(repr(ref_s))} not found: "
                                f"{_clip(through_file)}")
        if ref_s.endswith((".yaml", ".yml")) or "/" in ref_s:
            raise ScenarioError(f"scenario file {_clip(repr(ref_s))} not found")
        raise ScenarioError(f"{_clip(repr(ref_s))} is neither a preset nor a file{hint}; "
                            "`scslab presets` lists the presets")
    try:
        # bounded and non-blocking: /dev/zero, a named pipe or a 10 GB file is refused fast
        raw = read_regular(path, MAX_FILE_BYTES)
    except NotRegularFile as e:
        if e.kind == "a directory":
            raise ScenarioError(f"{_clip(repr(ref_s))} is a directory; give a scenario YAML "
                                "file or a preset") from None
        raise ScenarioError(f"{_clip(repr(ref_s))} is not a regular file ({e.kind}); give a "
                            "scenario YAML file or a preset") from None
    except OSError as e:
        raise ScenarioError(f"cannot read {_clip(repr(ref_s))}: {e.strerror or e}") from None
    return parse_yaml_text(raw, str(path)), path.parent, str(path)


def deep_merge(base: dict, over: dict) -> dict:
    """``over`` on top of ``base``: mappings merge key by key, recursively.

    A mapping tagged ``!replace`` (a :class:`Replace`) replaces the base's whole; lists
    and values always replace whole. The result holds plain dicts only.
    """
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and not isinstance(v, Replace) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = plain(copy.deepcopy(v))
    return plain(out)


class ScenarioDeprecationWarning(FutureWarning):
    """A scenario key that still loads but is deprecated; the message names the new key."""


def _warn(origin: str, text: str) -> None:
    """Warn about ``text``, attributed to the scenario ``origin``, not to scslab's code."""
    # line 0: Python's warning printer shows no source line (the file is YAML, not Python)
    warnings.warn_explicit(text, ScenarioDeprecationWarning, origin, 0, module="scslab.scenario")


def _migrate_sanction(kind: str, block: dict, origin: str) -> None:
    """Translate a sanction's deprecated ``adults_only`` into ``attempted_by`` (in place).

    ``adults_only`` acted on five kinds (true: adults, false: everyone) and never on
    ``private_school``, which children attempted regardless: the translation keeps what
    old files did.
    """
    if "adults_only" not in block:
        return
    old = block.pop("adults_only")
    key = f"policy.sanctions.{kind}"
    if not isinstance(old, bool):
        raise ScenarioError(f"{origin}: {key}.adults_only: deprecated and not a yes/no (got "
                            f"{_clip(repr(old))}); write `attempted_by: adults`, `children` "
                            "or `all` instead")
    if "attempted_by" in block:
        raise ScenarioError(f"{origin}: {key}: give `attempted_by` only; `adults_only` is the "
                            "deprecated form of the same setting")
    if kind == "private_school":
        block["attempted_by"] = "children"
        _warn(origin, f"{key}.adults_only is deprecated and never acted: children attempt private "
              "schools regardless; read as `attempted_by: children` (as before). Remove the "
              "key, or set `attempted_by: adults` or `all` for another group")
    else:
        block["attempted_by"] = "adults" if old else "all"
        _warn(origin, f"{key}.adults_only is deprecated; read as `attempted_by: "
              f"{block['attempted_by']}`. Write that instead")


def migrate_raw(data: dict, origin: str) -> dict:
    """Translate deprecated keys of one scenario mapping (in place; warns for each)."""
    pol = data.get("policy")
    sanctions = pol.get("sanctions") if isinstance(pol, dict) else None
    if isinstance(sanctions, dict):
        for kind, block in sanctions.items():
            if isinstance(block, dict):
                _migrate_sanction(str(kind), block, origin)
    return data


def resolved_base(ref: str | Path, relative_to: Path | None = None, _chain=()) -> dict:
    """A base's resolved values, defaults included (name and description dropped)."""
    raw = resolve_raw(ref, relative_to, _chain)
    label = str(ref)
    out = validate_raw(raw, f"base {label}").model_dump(mode="python")
    out.pop("name", None)
    out.pop("description", None)
    return out


def _derive(data: dict, folder: Path | None, label: str, chain: tuple) -> dict:
    """``data`` without its ``base:`` key, merged onto its base's resolved values."""
    base = data.pop("base", None)
    if base is None:
        return plain(data)
    if not isinstance(base, str):
        raise ScenarioError(f"{label}: `base` must be a preset name or a file path")
    if isinstance(data, Replace):
        raise ScenarioError(f"{label}: the whole file is tagged !replace; to ignore the base, "
                            "remove `base:` instead")
    return deep_merge(resolved_base(base, folder, (*chain, label)), data)


def resolve_raw(ref: str | Path, relative_to: Path | None = None, _chain=()) -> dict:
    """The raw mapping of a scenario with its ``base:`` chain merged in.

    A file with ``base:`` merges key by key onto its base's *resolved* values (the
    base validated, defaults included), so the result names every setting in effect;
    a file without ``base:`` is returned as written (defaults are filled at validation).
    """
    data, folder, label = _read_ref(ref, relative_to)
    if label in _chain:
        raise ScenarioError(f"`base:` cycle: {' -> '.join([*_chain, label])}")
    if len(_chain) > MAX_BASE_CHAIN:
        raise ScenarioError(f"`base:` chain longer than {MAX_BASE_CHAIN}")
    migrate_raw(data, label)
    return _derive(data, folder, label, _chain)


# --------------------------------------------------------------------------- overrides


def _field_model(model: type[BaseModel], key: str):
    f = model.model_fields.get(key)
    if f is None:
        return None, None
    ann = f.annotation
    import typing

    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return f, ann
    if origin in (dict, list) and args:
        inner = args[-1]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return f, ("container", origin, inner)
        return f, ("container", origin, None)
    return f, None


@functools.lru_cache(maxsize=1)
def _defaults() -> dict:
    """The default scenario as plain data (read-only: copy before changing it)."""
    return Scenario().model_dump(mode="python")


def _child(node: Any, key: str) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        return node[int(key)]
    return None


def _check_path(parts: list[str], raw: dict) -> list[type]:
    """Raise if ``parts`` does not name a field of the schema (did-you-mean hint).

    Returns the container type (dict or list) each prefix ``parts[:i+1]`` names. A list
    index is checked against the list the scenario will have: the file's, or the
    default one when the file leaves that list out.
    """
    model: Any = Scenario
    node: Any = raw
    dflt: Any = _defaults()
    kinds: list[type] = []
    for depth, key in enumerate(parts):
        where = ".".join(parts[: depth + 1])
        if isinstance(model, tuple):  # inside a dict or list field
            _, origin, inner = model
            if origin is list:
                if not key.isdigit():
                    raise ScenarioError(f"--set {where}: a list index must be a number")
                idx = int(key)
                seq = node if isinstance(node, list) else (dflt if isinstance(dflt, list)
                                                           else [])
                if idx >= len(seq):
                    raise ScenarioError(f"--set {where}: index {idx} out of range (list has "
                                        f"{len(seq)})")
            model = inner
        else:
            if model is None:
                raise ScenarioError(f"--set {where}: {'.'.join(parts[:depth])} is a value, "
                                    "not a block")
            f, sub = _field_model(model, key)
            if f is None:
                raise ScenarioError(f"--set {where}: no such setting"
                                    f"{did_you_mean(key, model.model_fields)}")
            model = sub
        kinds.append(list if isinstance(model, tuple) and model[1] is list else dict)
        node, dflt = _child(node, key), _child(dflt, key)
    return kinds


def parse_set(expr: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value``; the value is read as a YAML scalar."""
    if "=" not in expr:
        raise ScenarioError(f"--set {expr!r}: expected PATH=VALUE, e.g. "
                            "--set sensors.cameras.false_match_rate=0.01")
    path, _, value = expr.partition("=")
    path = path.strip()
    if not path or any(not p for p in path.split(".")):
        raise ScenarioError(f"--set {expr!r}: empty path segment")
    try:
        parsed = _load_yaml(value) if value.strip() else None
    except (yaml.YAMLError, ScenarioError, ValueError, TypeError, OverflowError,
            RecursionError):
        parsed = value
    if isinstance(parsed, float) and not math.isfinite(parsed):
        raise ScenarioError(f"--set {path}: {value!r} is not a finite number")
    return path.split("."), parsed


def _path_parts(path: Any) -> list[str]:
    if isinstance(path, str):
        parts = path.split(".")
    elif isinstance(path, list | tuple):
        parts = [str(p) for p in path]
    else:
        raise ScenarioError(f"override {_clip(repr(path))}: the path must be a dotted name "
                            "such as 'sensors.cameras.false_match_rate'")
    if not parts or any(not p.strip() for p in parts):
        raise ScenarioError(f"override {_clip(repr(path))}: empty path segment")
    return [p.strip() for p in parts]


def _put(node: dict | list, key: str, value: Any) -> None:
    if isinstance(node, list):
        node[int(key)] = value
    else:
        node[key] = value


def apply_overrides(raw: dict, overrides: list[str] | dict[str, Any] | None) -> dict:
    """Apply ``--set`` expressions or a {dotted.path: value} mapping to a raw scenario."""
    if not overrides:
        return raw
    items: list[tuple[str | list[str], Any]]  # a dotted path, or one split by parse_set
    if isinstance(overrides, dict):
        items = list(overrides.items())
    elif isinstance(overrides, list | tuple):
        if not all(isinstance(e, str) for e in overrides):
            raise ScenarioError("overrides must be 'PATH=VALUE' strings or a {path: value} "
                                "mapping")
        items = [parse_set(e) for e in overrides]
    else:
        raise ScenarioError("overrides must be 'PATH=VALUE' strings or a {path: value} mapping")
    out = copy.deepcopy(raw)
    for path, value in items:
        parts = _path_parts(path)
        if len(parts) == 4 and parts[:2] == ["policy", "sanctions"] and parts[3] == "adults_only":
            block = {"adults_only": value}
            _migrate_sanction(parts[2], block, "--set")
            parts, value = [*parts[:3], "attempted_by"], block["attempted_by"]
        kinds = _check_path(parts, out)
        node: Any = out
        dnode: Any = _defaults()
        for key, want in zip(parts[:-1], kinds, strict=False):
            child, dchild = _child(node, key), _child(dnode, key)
            if not isinstance(child, want):
                # the file leaves this block (or list) out, or has a wrong value there:
                # start from the default, so the path can go in
                child = copy.deepcopy(dchild) if isinstance(dchild, want) else want()
                _put(node, key, child)
            node, dnode = child, dchild
        _put(node, parts[-1], copy.deepcopy(value))
    return out


# --------------------------------------------------------------------------- validation


def _clip(text: str, limit: int = 80) -> str:
    """``text`` cut to ``limit`` characters, on one line."""
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _loc_str(loc) -> str:
    out = ""
    for p in loc:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "(top level)"


def _model_at(loc) -> type[BaseModel] | None:
    model: Any = Scenario
    for p in loc:
        if isinstance(model, tuple):
            model = model[2]
            continue
        if model is None or not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        _, model = _field_model(model, str(p))
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def format_validation_error(e: ValidationError, origin: str) -> str:
    """One line naming the field path, what is wrong and how to fix it."""
    err = e.errors()[0]
    loc = tuple(x for x in err["loc"] if not (isinstance(x, str) and "[" in x))
    path = _loc_str(loc)
    if err["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        hint = did_you_mean(str(loc[-1]), parent.model_fields) if parent else ""
        msg = f"unknown key{hint}"
    elif err["type"] == STRICT_ERROR:  # true for a number, 1 for a yes/no
        ctx = err.get("ctx") or {}
        loc = (*loc, *ctx.get("subpath", ()))
        path = _loc_str(loc)
        msg = str(ctx.get("reason", err["msg"]))
    else:
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        inp = err.get("input")
        if err["type"] not in ("missing",) and not isinstance(inp, dict | list):
            msg += f" (got {_clip(repr(inp))})"
    more = len(e.errors()) - 1
    tail = f" [+{more} more]" if more else ""
    if not loc:
        return f"{origin}: {msg}{tail}"
    return f"{origin}: {path}: {msg}{tail}"


def _model_type(f) -> type[BaseModel] | None:
    ann = getattr(f, "annotation", None)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _merge_block(model_cls: type[BaseModel], base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        sub = _model_type(model_cls.model_fields.get(k))
        if sub is not None and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge_block(sub, out[k], v)
        else:
            out[k] = v
    return out


def fill_defaults(model_cls: type[BaseModel], raw: dict) -> dict:
    """A partial block inherits the block's default, not just its class's defaults.

    ``sensors: {cameras: {false_match_rate: 0.01}}`` keeps the other camera settings
    of the default scenario. Blocks merge key by key; a mapping of names (rules,
    behaviours) or a list given in the file replaces the default whole.
    """
    out = dict(raw)
    for k, v in raw.items():
        f = model_cls.model_fields.get(k)
        sub = _model_type(f)
        if f is not None and sub is not None and isinstance(v, dict):
            if isinstance(f.default, BaseModel):
                v = _merge_block(sub, f.default.model_dump(mode="python"), v)
            out[k] = fill_defaults(sub, v)
    return out


def validate_raw(raw: dict, origin: str = "scenario") -> Scenario:
    """Validate a scenario mapping; any error becomes one ScenarioError naming ``origin``."""
    try:
        return Scenario.model_validate(fill_defaults(Scenario, raw))
    except ValidationError as e:
        raise ScenarioError(format_validation_error(e, origin)) from None
    except (ValueError, TypeError, RecursionError) as e:
        raise ScenarioError(f"{origin}: {e}") from None


def load_scenario(ref: str | Path | Scenario | dict,
                  overrides: list[str] | dict[str, Any] | None = None) -> Scenario:
    """A validated Scenario from a preset name, a YAML path, a mapping or a Scenario."""
    if isinstance(ref, Scenario):
        raw = ref.model_dump(mode="json")
        origin = ref.name
    elif isinstance(ref, dict):
        origin = "scenario"
        raw = _derive(migrate_raw(copy.deepcopy(ref), origin), None, origin, ())
    else:
        raw = resolve_raw(ref)
        origin = str(ref)
    raw = apply_overrides(raw, overrides)
    return validate_raw(raw, origin)


def scenario_to_yaml(sc: Scenario) -> str:
    """The fully resolved scenario as block-style YAML (top-level days: and seed:)."""
    data = sc.model_dump(mode="json")
    order = ["schema_version", "name", "description", "days", "seed"]
    ordered = {k: data.pop(k) for k in order if k in data}
    ordered.update(data)
    return yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False, allow_unicode=True,
                          width=100)


def scenario_hash(sc: Scenario) -> str:
    """A stable hash of the resolved scenario (name and description excluded)."""
    data = sc.model_dump(mode="json")
    data.pop("name", None)
    data.pop("description", None)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
