"""``scslab describe``: an ODD description of a scenario, generated from the model itself.

The ODD protocol (Overview, Design concepts, Details; Grimm et al. 2006, second
update Grimm et al. 2020, JASSS 23(2):7) is the standard way to describe an
agent-based model. This package writes one for any scenario, from what the code
declares rather than from a copy of it:

* entities and state variables from the arrays that ``population.build_world``
  and ``state.State.initial`` actually allocate (dtype, bytes per agent);
* the schedule from the engine's declared plan (``scslab.plan``: the day's calls in
  order, each stage's declaration and its module's docstring);
* random streams from the streams the stages, the population build and the event
  log declare;
* every parameter's value, unit and source by walking the pydantic scenario;
* submodels as rules and formulas with the scenario's numbers substituted,
  read from the compiled tables the kernels run on (``params.compile_params``):
  edit ``policy.rules.fraud`` and the rule table here changes.

Markdown by default; HTML through markdown-it-py. The modules:

* ``model`` — everything read from the model's declarations (the plan's schedule
  and stages, streams, flag bits, state field docs), as plain data;
* ``parameters`` — the scenario's parameter values; ``context`` — the sample build;
* ``overview`` (ODD 1–3), ``concepts`` (4), ``details`` (5–6), ``submodels`` (7);
* ``document`` — the whole document and its file; ``page`` — the HTML page;
* ``reference`` — the reference pages generated from the code (scenario schema,
  daily columns, summary keys).
"""

from __future__ import annotations

from scslab.describe.concepts import DESIGN_CONCEPTS
from scslab.describe.document import ODD_SECTIONS, describe, odd_markdown, write_description
from scslab.describe.model import ScheduleStep, random_streams, schedule
from scslab.describe.overview import StateVariable, state_variables
from scslab.describe.page import markdown_to_html
from scslab.describe.parameters import Parameter, input_parameters

__all__ = [
    "DESIGN_CONCEPTS",
    "ODD_SECTIONS",
    "Parameter",
    "ScheduleStep",
    "StateVariable",
    "describe",
    "input_parameters",
    "markdown_to_html",
    "odd_markdown",
    "random_streams",
    "schedule",
    "state_variables",
    "write_description",
]
