"""Scenarios: the schema, the loader and the presets shipped with scslab."""

from scslab.scenario.loader import (
    load_scenario,
    preset_names,
    scenario_hash,
    scenario_to_yaml,
)
from scslab.scenario.schema import SCHEMA_VERSION, Scenario

__all__ = ["SCHEMA_VERSION", "Scenario", "load_scenario", "preset_names", "scenario_hash",
           "scenario_to_yaml"]
