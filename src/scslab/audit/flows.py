"""Re-exports :mod:`scslab.scenario.flows`, where the data-flow model now lives.

A scenario declares its flows under ``data_flows:``, so the model belongs with the
scenario schema (which must not import the audit). This module keeps the old
import path, ``from scslab.audit.flows import DataFlow``, working.
"""

from scslab.scenario.flows import (
    JURISDICTION_PATTERN,
    Capture,
    Consent,
    DataFlow,
    Frequency,
    Purpose,
    Safeguard,
    SensorKind,
    Site,
    SiteKind,
    SiteSensor,
    Visitors,
    country_of,
    daily_captured_persons,
    expected_distinct_persons,
)

__all__ = [
    "JURISDICTION_PATTERN",
    "Capture",
    "Consent",
    "DataFlow",
    "Frequency",
    "Purpose",
    "Safeguard",
    "SensorKind",
    "Site",
    "SiteKind",
    "SiteSensor",
    "Visitors",
    "country_of",
    "daily_captured_persons",
    "expected_distinct_persons",
]
