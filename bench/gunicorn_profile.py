"""Gunicorn settings for `python -m bench --only api --profile-api DIR`: the project's own settings
(./gunicorn.conf.py, read as gunicorn would) plus cProfile around each request a worker handles, one
`.prof` file per worker written when it exits (`python -m pstats DIR/<pid>.prof`).

py-spy is not on the machine, and cProfile only sees the thread it is enabled in: under gthread workers
requests run on pool threads, so each thread gets its own profiler and the worker adds them up at exit."""
from __future__ import annotations

import cProfile
import os
import pstats
import threading
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]
exec(compile((_ROOT / "gunicorn.conf.py").read_text(), str(_ROOT / "gunicorn.conf.py"), "exec"))
_project_worker_exit = worker_exit  # type: ignore[name-defined]  # noqa: F821 (defined by the exec above)
_profiles: list[cProfile.Profile] = []
_local = threading.local()


def post_fork(server: Any, worker: Any) -> None:
    handle = worker.handle_request

    def profiled(*args: Any, **kwargs: Any) -> Any:
        profile = getattr(_local, "profile", None)
        if profile is None:
            profile = _local.profile = cProfile.Profile()
            _profiles.append(profile)
        return profile.runcall(handle, *args, **kwargs)

    worker.handle_request = profiled


def worker_exit(server: Any, worker: Any) -> None:  # noqa: F811 (the project's hook, then the profile's)
    _project_worker_exit(server, worker)
    if _profiles:
        stats = pstats.Stats(_profiles[0])
        for profile in _profiles[1:]:
            stats.add(profile)
        stats.dump_stats(os.path.join(os.environ["BENCH_PROFILE_DIR"], f"{os.getpid()}.prof"))
