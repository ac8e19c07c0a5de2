# One image for every Python process of careerloop; the container's command picks the process.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN useradd --create-home --uid 10001 careerloop
WORKDIR /app

COPY pyproject.toml requirements.lock README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install -c requirements.lock . && mkdir -p /app/var && chown careerloop /app/var

USER careerloop
ENV CAREERLOOP_DATA_DIR=/app/var HOST=0.0.0.0
# gunicorn reads ./gunicorn.conf.py: the access log's redaction of secrets (shared/web/logs.py)
COPY gunicorn.conf.py ./
EXPOSE 8001
# Gunicorn calls create_app() in each worker after fork (no --preload): clients are per process.
# Workers and threads: gunicorn.conf.py.
CMD ["gunicorn", "--bind", "0.0.0.0:8001", "services.contacts.app:create_app()"]
