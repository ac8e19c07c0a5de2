"""The web front end: a backend-for-frontend that renders pages from the service APIs, called over
HTTP with the signed-in user's own token. It holds no data and imports no other service."""
