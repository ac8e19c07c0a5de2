"""`python -m services.analytics.worker`: the funnel and engagement read models (`analytics-funnel`),
with the projection workers' flags (`--rebuild` applies a new FUNNEL_DEFINITION, `--status`, ...).

They are built from the pseudonymised journey topic, which the translator (its own process:
`python -m services.analytics.translator`) makes from the domain topics.
"""
from __future__ import annotations

import functools
from collections.abc import Callable

from services.analytics.domain import definition
from services.analytics.projections import FunnelViews
from services.analytics.pseudonyms import Pseudonymiser, Salts, salts_of
from shared.config import Settings
from shared.process import Running
from shared.runtime import projection_main


def funnel_views(settings: Settings, salts: Salts | None = None) -> Callable[..., FunnelViews]:
    """The projection as configured: its definition (and so its version) and the roster's pseudonyms
    (salted as the translator's are, with the process's `PersonalData.pseudonym_salt`)."""
    return functools.partial(FunnelViews, rules=definition(settings.int("FUNNEL_DEFINITION")),
                             pseudonymiser=Pseudonymiser.from_settings(settings, salts))


def main(argv: list[str] | None = None) -> int:
    def bind(process: Running) -> Callable[..., FunnelViews]:
        try:
            return funnel_views(process.settings, salts_of(process))
        except ValueError as exc:  # an unknown FUNNEL_DEFINITION: say so, without a traceback
            raise SystemExit(f"analytics-funnel: {exc}") from None

    return projection_main(FunnelViews, argv, bind=bind)


if __name__ == "__main__":
    raise SystemExit(main())
