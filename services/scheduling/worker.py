"""`python -m services.scheduling.worker`: the scheduling read models (interviews, contact references)."""
from services.scheduling.projections import SchedulingViews
from shared.runtime import projection_main

if __name__ == "__main__":
    raise SystemExit(projection_main(SchedulingViews))
