"""`python -m services.contacts.worker`: the contact-directory projection worker."""
from services.contacts.projections import ContactDirectory
from shared.runtime import projection_main

if __name__ == "__main__":
    raise SystemExit(projection_main(ContactDirectory))
