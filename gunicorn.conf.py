"""Settings every careerloop gunicorn shares; gunicorn reads ./gunicorn.conf.py by default, so the
Procfile, docker-compose and Dockerfile commands pick it up from the project's root (/app)."""

# The access log (`--access-logfile -`) without feed tokens, credential parameters or auth headers.
logger_class = "shared.web.logs.RedactingAccessLogger"
