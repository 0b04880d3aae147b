"""Reference documentation generated from the code: scenario schema, daily columns, summary.

Everything here is read off the declarations themselves — the pydantic models of
``scslab.scenario.schema`` (description, bounds, ``json_schema_extra`` unit and
source), the metric registry of ``scslab.stages.metrics`` and the keys that
``scslab.pipeline.summarise`` writes — so the README and the documentation site cannot
drift from the code (``scripts/gen_reference.py --check`` fails when they do).

Paths use two notations:

* **schema paths** (this module's tables): ``population.groups[i].share``,
  ``behaviours.<behaviour>.rate``, ``policy.rules.<behaviour>``;
* **override paths** (``--set`` and the ODD's input-data table):
  ``population.groups.0.share``, ``behaviours.fraud.rate``.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from scslab.formatting import fmt_number, fmt_value, md_cell, md_code
from scslab.scenario.schema import Scenario

__all__ = [
    "SUMMARY_KEYS",
    "FieldDoc",
    "columns_md",
    "leaf_paths",
    "md_cell",
    "reference_md",
    "scenario_reference_md",
    "schema_blocks",
    "schema_fields",
    "summary_keys_md",
]

#: Placeholder used for the keys of a mapping field, by field name.
KEY_PLACEHOLDERS: dict[str, str] = {
    "behaviours": "<behaviour>",
    "rules": "<behaviour>",
    "group_multipliers": "<group>",
    "size_shares": "<size>",
}



# --------------------------------------------------------------------------- types


def _unwrap_annotated(ann: Any) -> tuple[Any, list[Any]]:
    """(bare type, constraint metadata) of a possibly ``Annotated`` type."""
    meta: list[Any] = []
    while typing.get_origin(ann) is typing.Annotated:
        args = typing.get_args(ann)
        ann = args[0]
        for m in args[1:]:
            if isinstance(m, FieldInfo):
                meta.extend(m.metadata)
            else:
                meta.append(m)
    return ann, meta


def _is_union(ann: Any) -> bool:
    return typing.get_origin(ann) in (typing.Union, types.UnionType)


def _non_none(ann: Any) -> tuple[Any, bool]:
    """The type without ``None`` and whether ``None`` was allowed."""
    if _is_union(ann):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(ann))
        if len(args) == 1:
            return args[0], nullable
        return typing.Union[tuple(args)], nullable  # noqa: UP007 - built from a tuple
    return ann, False


def is_model(ann: Any) -> bool:
    """Whether ``ann`` is a pydantic model class."""
    return isinstance(ann, type) and issubclass(ann, BaseModel)


def container_of(ann: Any) -> tuple[str | None, Any]:
    """('list' | 'dict' | None, item type) of a field annotation (Optional stripped)."""
    ann, _ = _unwrap_annotated(ann)
    ann, _ = _non_none(ann)
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin in (list, tuple, set, frozenset) and args:
        return "list", _unwrap_annotated(args[0])[0]
    if origin is dict and len(args) == 2:
        return "dict", _unwrap_annotated(args[1])[0]
    return None, ann


def type_name(ann: Any) -> str:
    """A short, human name for a field's type."""
    ann, _ = _unwrap_annotated(ann)
    ann, nullable = _non_none(ann)
    origin = typing.get_origin(ann)
    args = typing.get_args(ann)
    if origin is typing.Literal:
        name = "choice"
    elif isinstance(ann, type) and issubclass(ann, enum.Enum):
        name = "choice"
    elif is_model(ann):
        name = "block"
    elif origin in (list, tuple, set, frozenset):
        inner = args[0] if args else Any
        name = f"list of {type_name(inner)}"
    elif origin is dict:
        name = f"mapping {type_name(args[0])} → {type_name(args[1])}"
    elif _is_union(ann):
        name = " or ".join(type_name(a) for a in args)
    else:
        import datetime as dt

        name = {bool: "boolean", int: "integer", float: "number", str: "string",
                dt.date: "date"}.get(ann, getattr(ann, "__name__", str(ann)))
    return f"{name} or null" if nullable else name


def _constraints(meta: list[Any]) -> list[str]:
    out = []
    for m in meta:
        for attr, sym in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            v = getattr(m, attr, None)
            if v is not None:
                out.append(f"{sym} {fmt_number(v)}")
        v = getattr(m, "min_length", None)
        if v is not None:
            out.append(f"length ≥ {v}")
        v = getattr(m, "max_length", None)
        if v is not None:
            out.append(f"length ≤ {v}")
        v = getattr(m, "pattern", None)
        if v is not None:
            out.append(f"pattern `{v}`")
    return out


def _choices(ann: Any) -> list[str] | None:
    ann, _ = _unwrap_annotated(ann)
    ann, _ = _non_none(ann)
    if typing.get_origin(ann) is typing.Literal:
        return [str(a) for a in typing.get_args(ann)]
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return [str(e.value) for e in ann]
    return None


def bounds_text(info: FieldInfo) -> str:
    """Bounds of a field: numeric limits, lengths, patterns, allowed values."""
    parts = _constraints(list(info.metadata))
    ann = info.annotation
    choices = _choices(ann)
    if choices:
        parts.append("one of " + ", ".join(choices))
    kind, item = container_of(ann)
    if kind is not None:
        bare, _ = _non_none(_unwrap_annotated(ann)[0])
        args = typing.get_args(bare)
        item_ann = args[-1] if kind == "dict" else (args[0] if args else Any)
        _, item_meta = _unwrap_annotated(item_ann)
        inner = _constraints(item_meta)
        ic = _choices(item_ann)
        if ic:
            inner.append("one of " + ", ".join(ic))
        if inner:
            parts.append(("values " if kind == "dict" else "items ") + ", ".join(inner))
    return "; ".join(parts)


# --------------------------------------------------------------------------- schema walk


@dataclass(frozen=True)
class FieldDoc:
    """One field of the scenario schema at one schema path."""

    path: str  # schema path, e.g. ``population.groups[i].share``
    model: type[BaseModel]  # the model that declares the field
    name: str  # field name in that model
    block: str  # schema path of the block the field belongs to ("" = top level)
    type: str
    default: Any  # the effective default at this path (PydanticUndefined if required)
    bounds: str
    unit: str
    description: str
    source: str
    leaf: bool  # False for blocks and containers of blocks

    @property
    def required(self) -> bool:
        """Whether the field has no default (a scenario must give it)."""
        return self.default is PydanticUndefined

    def default_text(self, limit: int | None = 160) -> str:
        """The default as YAML-ish text ("required" when there is none)."""
        if self.required:
            return "required"
        d = self.default
        if isinstance(d, BaseModel):
            return "(block)"
        if isinstance(d, dict) and d and all(isinstance(x, BaseModel) for x in d.values()):
            return f"{len(d)} entries: " + ", ".join(map(str, d))
        return fmt_value(d, limit)


def field_meta(info: FieldInfo) -> tuple[str, str]:
    """(unit, source) of a field from its ``json_schema_extra`` ("assumption" if unstated)."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    unit = extra.get("unit") or ""
    source = extra.get("source") or "assumption"
    return str(unit), str(source)


def _field_default(info: FieldInfo) -> Any:
    if info.default is not PydanticUndefined:
        return info.default
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return PydanticUndefined


def _model_doc(model: type[BaseModel]) -> str:
    doc = model.__doc__ or ""
    if not doc or doc == BaseModel.__doc__:
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def schema_fields(model: type[BaseModel] = Scenario, prefix: str = "",
                  instance: BaseModel | None | Any = PydanticUndefined) -> list[FieldDoc]:
    """Every field reachable from ``model``, depth-first, with effective defaults.

    ``instance`` is the default value of the block at ``prefix`` (defaults of
    nested blocks can differ from their class defaults: ``sensors.phone_scanners``
    defaults to a coverage of 0.3, not ``Sensor``'s 1.0). Containers of blocks
    (``population.groups``, ``behaviours``) are walked through their item class,
    with ``[i]`` or a ``<key>`` placeholder in the path.
    """
    if instance is PydanticUndefined:
        try:
            instance = model()
        except Exception:  # noqa: BLE001 - a block with required fields has no default
            instance = None
    out: list[FieldDoc] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(instance, BaseModel):
            default = getattr(instance, name)
        else:
            default = _field_default(info)
        unit, source = field_meta(info)
        ann = info.annotation
        kind, item = container_of(ann)
        bare, _ = _non_none(_unwrap_annotated(ann)[0])
        sub_model = bare if is_model(bare) else None
        leaf = sub_model is None and not (kind and is_model(item))
        desc = info.description or (_model_doc(sub_model) if sub_model else "")
        if not leaf and not desc:
            desc = f"Block of settings: see `{path}` below."
        if not leaf and not isinstance(info.json_schema_extra, dict):
            source = ""
        out.append(FieldDoc(path=path, model=model, name=name, block=prefix,
                            type=type_name(ann), default=default, bounds=bounds_text(info),
                            unit=unit, description=desc, source=source, leaf=leaf))
        if sub_model is not None:
            sub_default = default if isinstance(default, BaseModel) else None
            out += schema_fields(sub_model, path, sub_default)
        elif kind == "list" and is_model(item):
            out += schema_fields(item, f"{path}[i]", None)
        elif kind == "dict" and is_model(item):
            key = KEY_PLACEHOLDERS.get(name, "<key>")
            out += schema_fields(item, f"{path}.{key}", None)
    return out


def schema_blocks(model: type[BaseModel] = Scenario) -> list[tuple[str, type[BaseModel],
                                                                    list[FieldDoc]]]:
    """(block path, model, its fields) for every block, in walk order."""
    fields = schema_fields(model)
    blocks: dict[str, tuple[type[BaseModel], list[FieldDoc]]] = {"": (model, [])}
    for f in fields:
        blocks.setdefault(f.block, (f.model, []))[1].append(f)
    return [(path, m, fs) for path, (m, fs) in blocks.items()]


def leaf_paths(model: type[BaseModel] = Scenario) -> list[str]:
    """Schema paths of every leaf parameter (values, not blocks)."""
    return [f.path for f in schema_fields(model) if f.leaf]


def schema_models(model: type[BaseModel] = Scenario) -> list[type[BaseModel]]:
    """Every model class reachable from ``model`` (each once)."""
    seen: list[type[BaseModel]] = []

    def visit(m: type[BaseModel]) -> None:
        if m in seen:
            return
        seen.append(m)
        for info in m.model_fields.values():
            kind, item = container_of(info.annotation)
            bare, _ = _non_none(_unwrap_annotated(info.annotation)[0])
            if is_model(bare):
                visit(bare)
            elif kind and is_model(item):
                visit(item)

    visit(model)
    return seen


# --------------------------------------------------------------------------- scenario reference


def _anchor(path: str) -> str:
    return "ref-" + ("".join(c if c.isalnum() else "-" for c in path).strip("-") or "scenario")


def scenario_reference_md(heading_level: int = 3) -> str:
    """One table per schema block: path, type, default, bounds, unit, description, source."""
    h = "#" * heading_level
    blocks = schema_blocks()
    n_leaf = sum(1 for _, _, fs in blocks for f in fs if f.leaf)
    lines = [
        f"Every setting of a scenario file, generated from the pydantic schema "
        f"(schema version {Scenario.model_fields['schema_version'].default}; "
        f"{n_leaf} settings in {len(blocks)} blocks). A path names the setting in YAML and in "
        "`--set` (list items by index: `population.groups.0.share`; mapping entries by key: "
        "`policy.rules.fraud`). *Source* says where a default comes from: a section of the "
        "calibration sheet (`reference/calibration.md`), the seeds, or an assumption.",
        "",
    ]
    for path, model, fields in blocks:
        title = path or "top level"
        lines.append(f"{h} `{title}`")
        lines.append("")
        doc = _model_doc(model)
        if doc:
            lines += [f"{md_cell(doc)} ({model.__name__})", ""]
        lines.append("| path | type | default | bounds | unit | description | source |")
        lines.append("|---|---|---|---|---|---|---|")
        for f in fields:
            typ = f.type if f.leaf else f"{f.type} (table below)"
            default = f.default_text()
            if isinstance(f.default, BaseModel):
                shown = "see below"
            elif " entries: " in default:
                shown = md_cell(default)
            else:
                shown = md_code(default)
            lines.append("| " + " | ".join([
                md_code(f.path), md_cell(typ), shown,
                md_cell(f.bounds) if f.bounds else "", md_cell(f.unit),
                md_cell(f.description), md_cell(f.source)]) + " |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- daily columns


def _resolve(scenario: Any) -> Scenario:
    if isinstance(scenario, Scenario):
        return scenario
    from scslab.scenario.loader import load_scenario

    return load_scenario(scenario if scenario is not None else "national")


def scenario_registry(scenario: Any = "national") -> list:
    """The metric registry of a scenario, as the engine builds it (on a tiny population)."""
    from scslab.engine import Simulation
    from scslab.scenario.loader import load_scenario

    sc = _resolve(scenario)
    small = load_scenario(sc, {"population.agents": min(sc.population.agents, 2000)})
    sim = Simulation(small, threads=None)
    sim.build()
    return sim.metric_registry()


PATTERNS = {"behaviour": "<behaviour>", "kind": "<kind>", "grade": "<grade>",
            "group": "<group>", "region": "<region>", "sensor": "<sensor>"}


def _generic_registry() -> list:
    from scslab.stages.metrics import registry

    return registry([PATTERNS["behaviour"]], [PATTERNS["kind"]], [PATTERNS["grade"]],
                    [PATTERNS["group"]], [PATTERNS["region"]], [PATTERNS["sensor"]])


def columns_md(scenario: Any = "national", heading_level: int = 3) -> str:
    """Dictionary of the daily columns, from the metric registry.

    Columns that repeat per behaviour, sanction kind, grade or group are
    explained once as patterns (``acts_<behaviour>``, ``<metric>__<group>``);
    the names they take in ``scenario`` are listed after the table.
    """
    from scslab.params import compile_params
    from scslab.stages.metrics import registry

    sc = _resolve(scenario)
    h = "#" * heading_level
    generic = _generic_registry()
    actual = scenario_registry(sc)
    p = compile_params(sc, 1)
    lines = [
        "One row per simulated day (`daily.parquet`, `Result.daily`). *Kind*: a **stock** is a "
        "level at the end of the day, a **flow** a count during the day. *Scales*: whether "
        "the value grows in proportion to the population when a sample is scaled up "
        "(rare false matches and spillover through ties do not scale exactly). Generated "
        "from `scslab.stages.metrics.registry`.",
        "",
        "| column | unit | kind | scales | description |",
        "|---|---|---|---|---|",
    ]
    for m in generic:
        lines.append(f"| {md_code(m.name)} | {md_cell(m.unit)} | {m.kind} | "
                     f"{'yes' if m.scales else 'no'} | {md_cell(m.description)} |")
    lines.append("")
    lines += [
        f"{h} Repeated columns",
        "",
        "Columns with a `<placeholder>` repeat once per item of a scenario block:",
        "",
        "| pattern | one column per | names in this scenario (`" + md_cell(sc.name) + "`) |",
        "|---|---|---|",
    ]
    pattern_rows = [
        ("acts_<behaviour>", "behaviour in `behaviours`", p.behaviour_names),
        ("denied_<kind>", "sanction kind in `policy.sanctions`", p.sanction_names),
        ("grade_<grade>", "grade in `policy.grades` (highest first)", p.grade_names),
        ("<metric>__<group>", "group in `population.groups`; `<metric>` is "
         + ", ".join(f"`{m.name.split('__')[0]}`" for m in generic if m.name.endswith(
             "__<group>")), p.group_names),
        ("<metric>__region_<region>", "region in `population.regions` (two regions or more); "
         "`<metric>` is " + ", ".join(f"`{m.name.split('__')[0]}`" for m in generic
                                      if m.name.endswith("__region_<region>")),
         p.region_names if len(p.region_names) > 1 else []),
        ("misattributed__sensor_<sensor>", "sensor key in `sensors`", p.sensor_keys),
    ]
    for pat, per, names in pattern_rows:
        lines.append(f"| {md_code(pat)} | {md_cell(per)} | "
                     f"{', '.join(md_code(n) for n in names)} |")
    lines.append("")
    lines.append("Per-group columns use a double underscore (`listed__minority`), so a group "
                 "name can itself contain single underscores.")
    expanded = {m.name for m in registry(p.behaviour_names, p.sanction_names, p.grade_names,
                                         p.group_names,
                                         p.region_names if len(p.region_names) > 1 else [],
                                         p.sensor_keys)}
    extra = [m for m in actual if m.name not in expanded]
    lines.append("")
    if extra:
        lines += [f"{h} Columns added by this scenario's extra stages", "",
                  "| column | unit | kind | scales | description |", "|---|---|---|---|---|"]
        for m in extra:
            lines.append(f"| {md_code(m.name)} | {md_cell(m.unit)} | {m.kind} | "
                         f"{'yes' if m.scales else 'no'} | {md_cell(m.description)} |")
        lines.append("")
    lines.append(f"`{sc.name}` has {len(actual)} daily columns in all.")
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- summary.json

#: Keys of ``summary.json`` (``scslab.pipeline.summarise``) and what they hold.
SUMMARY_KEYS: list[tuple[str, str]] = [
    ("run_id", "Identifier of the run (scenario name, date-time and a random suffix)."),
    ("scenario", "Name of the scenario."),
    ("agents", "Number of agents."),
    ("days", "Days simulated (fewer than `days_planned` when stopped early)."),
    ("days_planned", "Days the scenario asked for."),
    ("seed", "Seed of every random stream of the run."),
    ("build_seconds", "Seconds spent building the population and compiling the scenario."),
    ("elapsed_seconds", "Seconds of the day loop only."),
    ("agent_days_per_second", "agents × days / elapsed_seconds."),
    ("peak_memory_bytes", "Peak resident memory of the process (bytes)."),
    ("completed", "False when the run was stopped early (Ctrl-C)."),
    ("bytes_per_agent", "Memory per agent: `state` (mutable arrays), `attributes` (fixed "
     "arrays), `ties` (CSR network)."),
    ("group_weights", "Design weight of each group (`population.oversample`; all 1 without "
     "oversampling): weighted counts divided by a group's weight give its agents "
     "(docs/weights.md)."),
    ("stage_seconds", "Seconds spent in each stage of the day, summed over the run."),
    ("event_log", "Event log: `enabled`, `scope` (all agents or a sample), `fraction` of "
     "agents logged, `rows` written."),
    ("provenance", "Where the result came from: `scslab` version, `git_commit`, `python`, "
     "`platform`, key `packages` versions, `scenario_hash`, `threads`, `device`."),
    ("metrics", "The last day's value of every daily column."),
    ("totals", "Every flow column (a count during the day) summed over the run."),
    ("fairness", "Each group against the `reference` group (the largest, or "
     "`population.reference_group`): per group, `disparate_impact` (wrongful-listing rate "
     "ratio per person-day) and `misattribution_ratio`, each with `ratio`, 95% `lo`/`hi` "
     "(exact conditional binomial), `events`, `rule_events`, `enough`, `verdict` and, below "
     "the rule (`min_events` in the group and the reference), `agents_needed`; see "
     "docs/fairness.md."),
    ("run_options", "How the run was started (e.g. `chilling`, `report`, `checkpoint_every`), "
     "so that `scslab run --resume` continues it the same way."),
    ("started", "Only in the placeholder summary written when a run starts, before its first "
     "day is done (with `completed: false`)."),
    ("chilling_effect", "Only with `--chilling`: 1 − acts of the chilled behaviour with "
     "the penalty on speech / without it (the counterfactual run, in which the sensors still "
     "watch)."),
    ("chilling", "Only with `--chilling`: the chilled `behaviour` and the acts counted "
     "`acts_with_monitoring` (this run) and `acts_without_monitoring` (the counterfactual, "
     "without the penalty on speech; the sensors still watch)."),
]


def summary_keys_md() -> str:
    """Table of the keys of ``summary.json``."""
    lines = ["Keys of `summary.json`, written beside `daily.parquet` in every run directory "
             "(and `Result.summary` in Python).", "", "| key | meaning |", "|---|---|"]
    for k, d in SUMMARY_KEYS:
        lines.append(f"| `{k}` | {md_cell(d)} |")
    return "\n".join(lines) + "\n"


def reference_md() -> str:
    """The whole reference: scenario settings, daily columns (national), summary keys."""
    return "\n".join([
        "# scslab reference", "",
        "## Scenario settings", "", scenario_reference_md(heading_level=3),
        "## Daily columns", "", columns_md("national", heading_level=3),
        "## summary.json", "", summary_keys_md(),
    ])
