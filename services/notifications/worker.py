"""`python -m services.notifications.worker`: the notifications read models (queue, inbox, history, endpoints)."""
from services.notifications.projections import NotificationViews
from shared.runtime import projection_main

if __name__ == "__main__":
    raise SystemExit(projection_main(NotificationViews))
