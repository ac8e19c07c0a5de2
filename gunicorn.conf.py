"""Settings every careerloop gunicorn shares; gunicorn reads ./gunicorn.conf.py by default, so the
Procfile, docker-compose, Dockerfile and Helm chart commands pick it up from the project's root (/app)."""
import os
import shutil
import tempfile

# Workers: the one place every deployment's gunicorn takes them from (the Procfile, docker-compose, the
# Dockerfile and the Helm chart name no worker settings, and bench/api.py runs its bare-Flask ceiling under
# these too, so the ratio compares like with like). Threads (gthread) because a command spends much of
# its time waiting on I/O: SQLite's write lock and fsync, or a round trip to MongoDB/Kafka. With sync
# workers two commands at a time was the limit whatever the cores; with threads the others decide
# meanwhile, and the SQLite event store commits the appends that pile up in one transaction and one
# fsync (shared/sqlite.py, group commit). Each thread has its own database connections.
# The web front end keeps sync workers (`--worker-class sync --threads 1` on its command lines): it only
# calls the APIs and renders pages, and was never reviewed for threads.
workers = 2
worker_class = "gthread"
threads = 4

# The access log (`--access-logfile -`) without feed tokens, credential parameters or auth headers.
logger_class = "shared.web.logs.RedactingAccessLogger"

# Request metrics across the workers (shared/web/traffic.py): each worker writes its samples to files
# in this directory, and a scrape of any worker adds them all up. It is set here, when gunicorn reads
# this file and before anything imports prometheus_client (which picks its storage at import), and is
# fresh for every server start, so no count survives from an earlier one.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
_own_metrics_dir = not _metrics_dir
if _own_metrics_dir:
    _metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="careerloop-metrics-")


def child_exit(server, worker):
    """A worker's gauges would outlive it; its counters stay counted (prometheus_client's rule)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)


def worker_exit(server, worker):
    """Send the worker's buffered spans before it goes (shared/tracing.py; nothing without an exporter).
    The exporter itself was started in the worker, by the app factory, after the fork."""
    from shared.tracing import flush

    flush()
