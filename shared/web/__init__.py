"""Flask plumbing every service shares: app factory, declared endpoints, errors, idempotency, OpenAPI."""
from shared.web.api import (  # noqa: F401
    AcceptedSchema,
    Api,
    command_metadata,
    current_principal,
    if_match_version,
    json_response,
    page_of,
    wait_for_version,
)
from shared.web.app import create_service_app  # noqa: F401
