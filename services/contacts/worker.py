"""`python -m services.contacts.worker`: the contact-directory projection worker."""
from __future__ import annotations

from services.contacts.projections import ContactDirectory
from shared.runtime import run_projection


def main() -> int:
    run_projection(ContactDirectory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
