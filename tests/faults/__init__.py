"""The load and fault harness (`make faults`; a small run of it is in `make test`).

On the real profile — Kafka and FerretDB on PostgreSQL, started by the harness itself
(`servers.py`), with every process of the Procfile started as `make run` starts them
(`tests/platform.py`) and real SMTP and webhook receivers:

- R1 (`scenarios.r1_chaos`): students' commands from concurrent clients across all services
  (`load.py`) while `chaos.py` kills a relay, a projection worker, an API worker, the announcer and
  the dispatcher with SIGKILL, in turn, and restarts them; then `checks.py`: every accepted command
  is stored once and visible in every read model, every projection equals a clean rebuild of it,
  and no reminder was delivered twice.
- R2 (`scenarios.r2_outages`): the broker, then the database, stopped in the middle of a load;
  no 500, every 503 with Retry-After, `/readyz` failing while down, everything visible after.
- R4 (`scenarios.r4_if_match`): concurrent conflicting updates of one contact with `If-Match`
  (exactly one wins per version, the rest get 412) and without it (no update lost).

Results: a table on stdout and `var/faults/results.json`.
"""
