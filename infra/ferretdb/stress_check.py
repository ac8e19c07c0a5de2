"""Stress check for careerloop-ferretdb under concurrent client processes.

Usage: python stress_check.py mongodb://127.0.0.1:PORT/ [--procs N] [--clients M] [--incs K] [--runs R]

Each run uses a fresh database and does, all at once from N processes
(started with "spawn", released together by a barrier):

* M times: open a NEW MongoClient (handshake), ``create_indexes`` on a shared
  collection (the same unique + plain index every time, as every adapter does on
  first use), insert a document, find it, update it, check the update, close.
* then K ``$inc`` of one shared counter document (fresh client each 10 incs),
  and one ``find_one_and_update`` counter (``$inc``, return after).

Afterwards the parent checks the exact counter values (N*K; the
find_one_and_update results must be N*K distinct values 1..N*K) and that every
inserted document exists with its update applied. Any exception in a child
(AutoReconnect in particular) fails the run.

Before the runs (unless --no-protocol-checks), single-client checks of what
main.go's proxy works around: createIndexes of several indexes that exist
already (FerretDB v1.24 panics and drops the connection), of two existing
plus a new index (FerretDB silently skips the new one), conflicts and rollback, and
an unacknowledged (w=0, moreToCome) write followed by a read.

Exit status 0 if the protocol checks and all runs pass.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import time
import traceback
import uuid

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient, ReturnDocument, WriteConcern
from pymongo.errors import OperationFailure

OPTS = {"serverSelectionTimeoutMS": 10000, "connectTimeoutMS": 10000, "retryWrites": False,
        "retryReads": False}
INDEXES = [IndexModel([("stream_id", ASCENDING), ("first_version", ASCENDING)], name="stream_version", unique=True),
           IndexModel([("published", ASCENDING), ("_id", ASCENDING)], name="published_position")]


def child(url: str, db_name: str, name: str, clients: int, incs: int, barrier, results) -> None:
    try:
        barrier.wait(timeout=120)
        for i in range(clients):
            # A new client each time: handshake, then commands at once, as a fresh process does.
            with MongoClient(url, **OPTS) as client:
                db = client[db_name]
                db.commits.create_indexes(INDEXES)
                doc_id = f"{name}-{i}"
                db.commits.insert_one({"_id": doc_id, "stream_id": doc_id, "first_version": 1, "published": False})
                found = db.commits.find_one({"_id": doc_id})
                assert found is not None and found["stream_id"] == doc_id, found
                res = db.commits.update_one({"_id": doc_id}, {"$set": {"published": True}})
                assert res.matched_count == 1, res.raw_result
                assert db.commits.find_one({"_id": doc_id})["published"] is True
                db.commits.count_documents({"published": False})
        seen = []
        client = None
        for k in range(incs):
            if k % 10 == 0:
                if client is not None:
                    client.close()
                client = MongoClient(url, **OPTS)
            db = client[db_name]
            db.counters.update_one({"_id": "plain"}, {"$inc": {"n": 1}}, upsert=True)
            doc = db.counters.find_one_and_update({"_id": "seq"}, {"$inc": {"seq": 1}}, upsert=True,
                                                  return_document=ReturnDocument.AFTER)
            seen.append(doc["seq"])
        if client is not None:
            client.close()
        results.put((name, "ok", seen))
    except BaseException as exc:  # noqa: BLE001 - report everything to the parent
        with contextlib.suppress(Exception):
            barrier.abort()
        results.put((name, "crashed", f"{exc!r}\n{traceback.format_exc()}"))


def one_run(url: str, procs: int, clients: int, incs: int) -> list[str]:
    db_name = f"stress_{uuid.uuid4().hex[:10]}"
    errors: list[str] = []
    with MongoClient(url, **OPTS) as admin:
        # The collection exists (with its indexes) before the children start, as in the tests.
        admin[db_name].commits.create_indexes(INDEXES)
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(procs), ctx.Queue()
        names = [f"p{i}" for i in range(procs)]
        kids = [ctx.Process(target=child, args=(url, db_name, n, clients, incs, barrier, results)) for n in names]
        for k in kids:
            k.start()
        outcomes = []
        try:
            for _ in kids:
                outcomes.append(results.get(timeout=300))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"children did not report: {exc!r}")
        for k in kids:
            k.join(timeout=60)
            if k.is_alive():
                k.terminate()
                k.join()
        for name, status, detail in outcomes:
            if status != "ok":
                errors.append(f"{name} crashed: {detail}")
        if not errors:
            db = admin[db_name]
            plain = db.counters.find_one({"_id": "plain"})
            if incs and (plain is None or plain["n"] != procs * incs):
                errors.append(f"$inc lost updates: n={plain and plain['n']}, want {procs * incs}")
            seq = db.counters.find_one({"_id": "seq"})
            if incs and (seq is None or seq["seq"] != procs * incs):
                errors.append(f"find_one_and_update $inc lost updates: seq={seq and seq['seq']}, want {procs * incs}")
            seen = sorted(v for _, _, vals in outcomes for v in vals)
            if seen != list(range(1, procs * incs + 1)):
                errors.append(f"find_one_and_update returned duplicate/missing values ({len(set(seen))} distinct)")
            count = db.commits.count_documents({"published": True})
            if count != procs * clients:
                errors.append(f"documents: {count} inserted+updated, want {procs * clients}")
        admin.drop_database(db_name)
    return errors


def protocol_checks(url: str) -> list[str]:
    errors: list[str] = []
    db_name = f"stress_proto_{uuid.uuid4().hex[:10]}"

    def check(name: str, fn) -> None:
        try:
            fn()
            print(f"check {name}: ok", flush=True)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"check {name}: {exc!r}")
            print(f"check {name}: FAIL {exc!r}", flush=True)

    a = IndexModel([("a", ASCENDING)], name="a_1")
    b = IndexModel([("b", ASCENDING), ("c", DESCENDING)], name="b_c", unique=True)
    c = IndexModel([("c", ASCENDING)], name="c_1")

    with MongoClient(url, **OPTS, maxPoolSize=1) as client:
        db = client[db_name]

        def names(coll) -> list[str]:
            return sorted(ix["name"] for ix in coll.list_indexes())

        def cmd(coll, *models):
            return db.command("createIndexes", coll, indexes=[m.document for m in models])

        def new_collection_two_indexes():
            res = cmd("t1", a, b)
            assert res["createdCollectionAutomatically"] is True, res
            assert (res["numIndexesBefore"], res["numIndexesAfter"]) == (1, 3), res
            assert names(db.t1) == ["_id_", "a_1", "b_c"], names(db.t1)

        def two_existing_again():  # FerretDB alone: panic, connection dropped (AutoReconnect)
            res = cmd("t1", a, b)
            assert res.get("note") == "all indexes already exist", res
            assert (res["numIndexesBefore"], res["numIndexesAfter"]) == (3, 3), res

        def existing_then_new():  # FerretDB alone: c_1 silently not created (b_c removed twice)
            res = cmd("t1", a, b, c)
            assert (res["numIndexesBefore"], res["numIndexesAfter"]) == (3, 4), res
            assert res["createdCollectionAutomatically"] is False, res
            assert names(db.t1) == ["_id_", "a_1", "b_c", "c_1"], names(db.t1)

        def identical_in_request():
            d = IndexModel([("d", ASCENDING)], name="d_1")
            try:
                cmd("t1", d, d)
            except OperationFailure as exc:
                assert exc.code == 68, exc.details  # IndexAlreadyExists
            else:
                raise AssertionError("no error")
            assert "d_1" not in names(db.t1)

        def failure_rolls_back():
            db.t2.insert_many([{"u": 1}, {"u": 1}])
            e = IndexModel([("e", ASCENDING)], name="e_1")
            u = IndexModel([("u", ASCENDING)], name="u_1", unique=True)
            try:
                cmd("t2", e, u)  # u_1 cannot be built: duplicate values
            except OperationFailure:
                pass
            else:
                raise AssertionError("no error")
            assert names(db.t2) == ["_id_"], names(db.t2)

        def failure_on_new_collection_leaves_nothing():
            bad = {"key": {"y": 1}, "name": ""}  # rejected: empty name
            try:
                db.command("createIndexes", "t4", indexes=[a.document, bad])
            except OperationFailure:
                pass
            else:
                raise AssertionError("no error")
            assert "t4" not in db.list_collection_names(), db.list_collection_names()

        def name_conflict_with_existing():
            f = IndexModel([("f", ASCENDING)], name="f_1")
            other_a = IndexModel([("zzz", ASCENDING)], name="a_1")
            try:
                cmd("t1", f, other_a)
            except OperationFailure as exc:
                assert exc.code == 86, exc.details  # IndexKeySpecsConflict
            else:
                raise AssertionError("no error")
            assert "f_1" not in names(db.t1), names(db.t1)

        def unacknowledged_write():  # FerretDB alone: the next reply is out of step (ProtocolError)
            db.get_collection("t3", write_concern=WriteConcern(w=0)).insert_one({"_id": 1})
            deadline = time.monotonic() + 5
            while db.t3.find_one({"_id": 1}) is None:
                assert time.monotonic() < deadline, "w=0 insert never became visible"
                time.sleep(0.05)
            assert db.t3.count_documents({}) == 1

        check("createIndexes [a, b] on a new collection", new_collection_two_indexes)
        check("createIndexes [a, b] again (both exist)", two_existing_again)
        check("createIndexes [a, b (exist), c (new)]", existing_then_new)
        check("createIndexes [d, d] (identical twice)", identical_in_request)
        check("createIndexes [e, u] where u fails: e rolled back", failure_rolls_back)
        check("createIndexes [f, name clash with a_1]: error 86, f not created", name_conflict_with_existing)
        check(
            "createIndexes [a, invalid] on a new collection: no collection left",
            failure_on_new_collection_leaves_nothing,
        )
        check("w=0 insert, then find/count on the same connection", unacknowledged_write)
        try:
            client.drop_database(db_name)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"drop_database: {exc!r}")
    return errors


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--procs", type=int, default=4)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--incs", type=int, default=50)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--no-protocol-checks", action="store_true")
    args = ap.parse_args()
    proto_errors = [] if args.no_protocol_checks else protocol_checks(args.url)
    failed = 0
    for run in range(1, args.runs + 1):
        start = time.monotonic()
        errors = one_run(args.url, args.procs, args.clients, args.incs)
        took = time.monotonic() - start
        if errors:
            failed += 1
            print(f"run {run}: FAIL ({took:.1f} s)", flush=True)
            for e in errors:
                print("   " + e.replace("\n", "\n   "), flush=True)
        else:
            print(f"run {run}: ok ({took:.1f} s)", flush=True)
    print(f"{args.runs - failed}/{args.runs} runs passed", flush=True)
    if proto_errors:
        print(f"{len(proto_errors)} protocol check(s) FAILED", flush=True)
    return 1 if failed or proto_errors else 0


if __name__ == "__main__":
    sys.exit(main())
