"""Benchmark peer: how fast the `eventsourcing` library records submission events in PostgreSQL.

Run by bench/peer-eventsourcing (which provides the virtualenv). Uses the library's own
PostgresDatastore and PostgresApplicationRecorder, so each insert_events() call is what an
eventsourcing application does on save: one transaction that takes the recorder's table lock,
notifies listeners and inserts the events with their notification ids. fsync and
synchronous_commit are left as the server has them, as for consultd.

Prints one JSON object on stdout; progress goes to stderr.
"""

import argparse
import json
import os
import sys
import threading
import time
import uuid
from importlib.metadata import version

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore

WRITERS = 16
BATCH = 100
TOPIC = "consult:SubmissionReceived"


def log(message):
    print(f"peer-eventsourcing: {message}", file=sys.stderr, flush=True)


def payload(i):
    """About 400 bytes of JSON, shaped like a consultd submission."""
    body = {
        "organisation": "o1",
        "consultation": "c1",
        "key": f"k{i}",
        "submission": {
            "text": "",
            "stage": "drafting",
            "language": "en",
            "represents": {"gender": ["women"]},
        },
    }
    filler = len(json.dumps(body, separators=(",", ":")))
    body["submission"]["text"] = ("The proposal should say how it reaches rural areas. " * 8)[: 400 - filler]
    return json.dumps(body, separators=(",", ":")).encode()


def make_events(n, start):
    # Made before the clock starts, so that the figures are the library's and the server's, not
    # Python's JSON encoder. Each event opens a submission stream of its own (version 1), as a new
    # submission does in consultd.
    return [StoredEvent(uuid.uuid4(), 1, TOPIC, payload(start + i)) for i in range(n)]


def percentile(sorted_values, p):
    # Nearest rank: a value that was actually observed.
    rank = max(1, round(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def one_writer(recorder, events):
    latencies = []
    started = time.perf_counter()
    for event in events:
        t = time.perf_counter()
        recorder.insert_events([event])
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return len(events) / elapsed, percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000


def many_writers(recorder, events, writers):
    # Each thread holds a pool connection only for the length of its insert_events() call, as the
    # library intends; with a pool of at least `writers` connections none ever waits for one.
    # The barrier lets every thread start at once, so the clock measures contention, not start-up.
    shares = [events[i::writers] for i in range(writers)]
    barrier = threading.Barrier(writers + 1)
    errors = []

    def run(share):
        barrier.wait()
        try:
            for event in share:
                recorder.insert_events([event])
        except Exception as e:  # reported after the join; a silent thread would inflate the rate
            errors.append(e)

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return len(events) / elapsed


def batches(recorder, events, size):
    started = time.perf_counter()
    for i in range(0, len(events), size):
        recorder.insert_events(events[i : i + size])
    return len(events) / (time.perf_counter() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000, help="events for the per-event runs")
    parser.add_argument("--batch-events", type=int, default=100_000, help="events for the batch run")
    args = parser.parse_args()

    # A database of our own, so that nothing else in the cluster is touched and nothing is left.
    # The admin connection takes PGHOST, PGPORT, PGUSER and PGDATABASE from the environment.
    dbname = f"es_peer_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{dbname}"')
        settings = admin.execute("SELECT current_setting('fsync'), current_setting('synchronous_commit')").fetchone()
    log(f"database {dbname}; fsync={settings[0]} synchronous_commit={settings[1]}")

    datastore = None
    try:
        datastore = PostgresDatastore(
            dbname=dbname,
            host=os.environ.get("PGHOST", "localhost"),
            port=os.environ.get("PGPORT", "5432"),
            user=os.environ.get("PGUSER", ""),
            password=os.environ.get("PGPASSWORD", ""),
            pool_size=WRITERS,
        )
        recorder = PostgresApplicationRecorder(datastore)
        recorder.create_table()
        # The pool fills in the background; wait for it so no run pays for connecting.
        datastore.pool.open(wait=True, timeout=30)

        log(f"1 writer, {args.events} events, one transaction each")
        rate_1, p50, p99 = one_writer(recorder, make_events(args.events, 0))
        log(f"  {rate_1:.0f} events/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")

        log(f"{WRITERS} writers, {args.events} events, one transaction each")
        rate_16 = many_writers(recorder, make_events(args.events, args.events), WRITERS)
        log(f"  {rate_16:.0f} events/s")

        log(f"1 writer, {args.batch_events} events in batches of {BATCH}")
        rate_batch = batches(recorder, make_events(args.batch_events, 2 * args.events), BATCH)
        log(f"  {rate_batch:.0f} events/s")

        # Every event must be there exactly once: a lost or retried-twice insert would skew the rates.
        expected = 2 * args.events + args.batch_events
        with datastore.get_connection() as conn:
            count = conn.execute("SELECT count(*) AS n FROM stored_events").fetchone()["n"]
        if count != expected:
            raise SystemExit(f"peer-eventsourcing: {count} events stored, {expected} expected")
        log(f"checked: {count} events stored")
    finally:
        if datastore is not None:
            datastore.close()
        with psycopg.connect(autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        log(f"dropped {dbname}")

    print(json.dumps({
        "eventsourcing_version": version("eventsourcing"),
        "eventsourcing_1_events_per_s": round(rate_1, 1),
        "eventsourcing_16_events_per_s": round(rate_16, 1),
        "eventsourcing_batch100_events_per_s": round(rate_batch, 1),
        "eventsourcing_1_p50_ms": round(p50, 3),
        "eventsourcing_1_p99_ms": round(p99, 3),
    }))


if __name__ == "__main__":
    main()
