"""`python -m services.followups.worker`: timelines and follow-up queues."""
from services.followups.projections import FollowUpViews
from shared.runtime import projection_main

if __name__ == "__main__":
    raise SystemExit(projection_main(FollowUpViews))
