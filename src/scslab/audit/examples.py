"""Two ready-made data flows built from the calibration sheet and the seeds.

Both are descriptions for the audit, not data about anyone: the visitor numbers
are assumptions of the right order of magnitude, marked as such.

- :func:`vancouver_restaurant`: a Vancouver hot-pot restaurant with two cameras
  at each of its 30 tables whose footage was reportedly sent to head office in
  China to "people track" and check staff (calibration.md §8; the manager later
  called those statements false, and the chain says the cameras are for safety
  — the flow encodes the reported version, as a what-if).
- :func:`vancouver_restaurant_disputed`: the same restaurant as the counter-claims
  describe it: cameras for safety and security, footage kept in British Columbia,
  nothing sent to China (calibration.md §8).
- :func:`au_headquarters`: the African Union headquarters in Addis Ababa,
  whose servers reportedly copied data to China every night from 2012 to 2017
  (seed 004, citing the BBC).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from scslab.scenario.flows import DataFlow

__all__ = ["au_headquarters", "vancouver_restaurant", "vancouver_restaurant_disputed"]


def vancouver_restaurant(**overrides: Any) -> DataFlow:
    """The Vancouver restaurant flow as reported (calibration.md §8).

    60 cameras (2 per table × 30 tables) capturing video and faces, streamed to
    head office in China (CN) to track people and check staff; no notice, no
    consent, no safeguards, and Chinese authorities can compel access.

    Args:
        **overrides: Top-level ``DataFlow`` fields to replace (validated), e.g.
            ``notice=True, consent="express"``.

    Returns:
        The flow.
    """
    data: dict[str, Any] = {
        "name": "vancouver_restaurant",
        "site": {
            "name": "Hot-pot restaurant, Vancouver",
            "kind": "restaurant",
            "jurisdiction": "CA-BC",
            "sensors": [{"kind": "camera", "count": 2, "per": "table", "units": 30,
                         "captures": ["video", "faces"]}],
            "visitors": {
                # assumption: 30 tables × ~4 diners × ~3 sittings a day
                "daily_visitors": 360,
                # assumption: Metro Vancouver, order of magnitude (2021 census ~2.6 M)
                "foreign_resident_population": 2_600_000,
                # assumption: political and business figures among diners
                "persons_of_interest_share": 0.01,
            },
        },
        "destination": "CN",
        # reported: cameras used to "people track" and check staff; people tracking
        # is the wider purpose, so it is the one recorded.
        "purpose": "people_tracking",
        "notice": False,
        "consent": "none",
        "safeguards": ["none"],
        "data_subject_rights": False,
        "foreign_authority_access": True,
        "retention_days": 30,  # assumption: not reported
        "transfer_frequency": "continuous",
        "controller_established_in": ["CN"],
        # at home: a false match lands on one of 1.4 bn people in the national gallery
        # (assumption), recorded as criticism by default (see the vancouver-restaurant preset)
        "at_home": {"gallery_people": 1_400_000_000},
    }
    return DataFlow.model_validate({**data, **overrides})


def vancouver_restaurant_disputed(**overrides: Any) -> DataFlow:
    """The Vancouver restaurant flow as the counter-claims describe it (calibration.md §8).

    The manager later said the reported statements were false: the cameras are for
    safety, city-approved, and nothing was sent to China; the chain said the cameras
    are for safety and security. So the same 60 cameras serve security and the footage
    stays in British Columbia (CA-BC), out of reach of foreign authorities. No source
    says that notices were posted or consent asked, so notice stays false and consent
    none, as in the reported version. Assumption: the footage leaves the premises only
    after an incident (``transfer_frequency: occasional``); the sources do not say.

    Args:
        **overrides: Top-level ``DataFlow`` fields to replace (validated).

    Returns:
        The flow (named ``vancouver_restaurant_disputed``).
    """
    data = vancouver_restaurant().model_dump()
    data.update(name="vancouver_restaurant_disputed", destination="CA-BC", purpose="security",
                foreign_authority_access=False, transfer_frequency="occasional")
    return DataFlow.model_validate({**data, **overrides})


def au_headquarters(controller_established_in: Sequence[str] = ("ET",),
                    **overrides: Any) -> DataFlow:
    """The African Union headquarters flow (seed 004): nightly copies to China, 2012–2017.

    None of the four laws in the rule set governs a site in Ethiopia, and PIPL
    (in force 1 Nov 2021) and the GDPR (25 May 2018) came after the flow: the
    audit applies none of them and says so in notes. With later dates
    (``started=``/``ended=``) it reads PIPL at the destination, for contrast.
    The GDPR reaches a site outside the EU only through the controller's
    establishment (Art. 3(1)) or by targeting or monitoring people *in* the EU
    (Art. 3(2)); visitors from the EU to Addis Ababa do not bring it in. Pass
    e.g. ``controller_established_in=("EU-BE",)`` to model data of an
    organisation established in the EU held on those servers.

    Args:
        controller_established_in: Where the organisation whose data it is is
            established ("ET" by default: the building's host country).
        **overrides: Other top-level ``DataFlow`` fields to replace (validated).

    Returns:
        The flow.
    """
    data: dict[str, Any] = {
        "name": "au_headquarters",
        "site": {
            "name": "African Union headquarters, Addis Ababa",
            "kind": "office_building",
            "jurisdiction": "ET",
            "sensors": [{"kind": "network_server", "count": 1, "per": None, "units": 1,
                         "captures": ["documents", "device_ids"]}],
            "visitors": {
                "daily_visitors": 3_000,  # assumption: staff, delegates and visitors
                "foreign_resident_population": 10_000,  # assumption: people who use the building
                "persons_of_interest_share": 0.2,  # assumption: diplomats and officials
            },
        },
        "destination": "CN",
        "purpose": "unspecified",
        "notice": False,
        "consent": "none",
        "safeguards": ["none"],
        "data_subject_rights": False,
        "foreign_authority_access": True,
        "retention_days": 3_650,  # assumption: unknown, years
        "transfer_frequency": "daily",
        "controller_established_in": list(controller_established_in),
        # approximate: the seed says 2012 to 2017 (found in January 2017)
        "started": dt.date(2012, 1, 1),
        "ended": dt.date(2017, 1, 31),
        "at_home": {"gallery_people": 1_400_000_000},
    }
    return DataFlow.model_validate({**data, **overrides})
