"""`python -m services.notes.worker`: the notes read models (search, references, access log, advisors)."""
from services.notes.projections import NotesViews
from shared.runtime import projection_main

if __name__ == "__main__":
    raise SystemExit(projection_main(NotesViews))
