"""Hypothesis profiles for the differential suite.

``ci`` (chosen when CI=true) is derandomized, so every CI run tries the same examples; ``dev``
draws new ones each run (failures are replayed from the local example database); ``thorough``
tries many more. Choose one with TIDAL_HYPOTHESIS_PROFILE; TIDAL_MAX_EXAMPLES overrides its
number of examples. The profiles are registered as ``differential-<name>`` and applied per test
(``@PROFILE``), not loaded globally, so other suites keep their own hypothesis settings.

    TIDAL_HYPOTHESIS_PROFILE=thorough pytest tests/differential -k join
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}

# Six examples per query keep the suite near two and a half minutes on two cores.
settings.register_profile("differential-ci", max_examples=6, derandomize=True, **_COMMON)
settings.register_profile("differential-dev", max_examples=6, **_COMMON)
settings.register_profile("differential-thorough", max_examples=200, **_COMMON)


def profile_name() -> str:
    default = "ci" if os.environ.get("CI", "").lower() == "true" else "dev"
    return "differential-" + os.environ.get("TIDAL_HYPOTHESIS_PROFILE", default)


PROFILE = settings(
    settings.get_profile(profile_name()),
    **(
        {"max_examples": int(os.environ["TIDAL_MAX_EXAMPLES"])}
        if os.environ.get("TIDAL_MAX_EXAMPLES")
        else {}
    ),
)
