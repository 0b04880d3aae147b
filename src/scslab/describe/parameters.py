"""Every parameter value of a scenario, at its ``--set`` path, with unit, source and default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from scslab.describe.reference import container_of, field_meta, is_model
from scslab.scenario.schema import Scenario

__all__ = ["Parameter", "input_parameters"]



@dataclass(frozen=True)
class Parameter:
    """One parameter value of a scenario, at its ``--set`` path."""

    path: str
    value: Any
    unit: str
    source: str
    description: str
    default: Any = field(default=None)
    has_default: bool = False

    @property
    def is_default(self) -> bool:
        """Whether the value is the schema's default at this path."""
        return self.has_default and _same(self.value, self.default)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, BaseModel):
        a = a.model_dump(mode="json")
    if isinstance(b, BaseModel):
        b = b.model_dump(mode="json")
    if hasattr(a, "value") and not isinstance(a, int | float | str):
        a = a.value
    if hasattr(b, "value") and not isinstance(b, int | float | str):
        b = b.value
    if isinstance(a, tuple):
        a = list(a)
    if isinstance(b, tuple):
        b = list(b)
    return a == b


def _walk_instance(model: type[BaseModel], inst: BaseModel, prefix: str) -> list[Parameter]:
    out: list[Parameter] = []
    for name, info in type(inst).model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        v = getattr(inst, name)
        unit, source = field_meta(info)
        desc = info.description or ""
        kind, item = container_of(info.annotation)
        if isinstance(v, BaseModel):
            out += _walk_instance(type(v), v, path)
        elif kind == "list" and is_model(item) and v:
            for i, x in enumerate(v):
                out += _walk_instance(type(x), x, f"{path}.{i}")
        elif kind == "dict" and v and (is_model(item) or not isinstance(
                next(iter(v.values())), dict)):
            for k, x in v.items():
                if isinstance(x, BaseModel):
                    out += _walk_instance(type(x), x, f"{path}.{k}")
                else:
                    out.append(Parameter(f"{path}.{k}", x, unit, source, desc))
        else:
            out.append(Parameter(path, v, unit, source, desc))
    return out


def input_parameters(sc: Scenario) -> list[Parameter]:
    """Every parameter value of ``sc`` (leaves of the scenario), with unit, source and default.

    Paths are ``--set`` paths (``population.regions.3.rules.criticism``). The
    default is the value at the same path in a scenario with no settings at all;
    mappings and lists that are empty in ``sc`` appear once, as ``{}`` or ``[]``.
    """
    defaults = {p.path: p.value for p in _walk_instance(Scenario, Scenario(), "")}
    out = []
    for p in _walk_instance(Scenario, sc, ""):
        has = p.path in defaults
        out.append(Parameter(p.path, p.value, p.unit, p.source, p.description,
                             defaults.get(p.path), has))
    return out

