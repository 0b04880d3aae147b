"""The building blocks of the scenario schema: field helper, base model, bounded types.

Every block of :mod:`scslab.scenario.schema` (and :mod:`scslab.scenario.policy`) is a
:class:`Model` whose fields are made with :func:`F`, which records each field's unit and
the source of its default in ``json_schema_extra``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import ConfigDict, Field
from pydantic.json_schema import JsonDict

from scslab.inputs import StrictScalars

__all__ = ["F", "Model", "Multiplier", "Points", "Probability", "Rate"]

Probability = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
Points = Annotated[float, Field(ge=-10_000.0, le=10_000.0, allow_inf_nan=False)]
Multiplier = Annotated[float, Field(ge=0.0, le=1.0e6, allow_inf_nan=False)]


def F(default, description: str, unit: str | None = None, source: str = "assumption", **kw):
    """A field with a description, a unit and the source of its default."""
    extra: JsonDict = {"unit": unit, "source": source}
    return Field(default, description=description, json_schema_extra=extra, **kw)


class Model(StrictScalars):
    """Base for scenario blocks: frozen, unknown keys rejected, no NaN/inf.

    Nor ``true`` for a number or ``1`` for a yes/no (``StrictScalars``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              validate_default=True)


