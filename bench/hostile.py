#!/usr/bin/env python3
"""Hostile clients and a frozen database against a real consultd: the figures of the "Safe to
expose" work, measured the same way before and after.

Run inside scripts/with-postgres (it needs the PG* variables and CONSULT_TEST_PGCTL):

    scripts/with-postgres python3 bench/hostile.py --bin .build/release [--scenario all]

Each scenario gets a fresh database, registers organisations with consultctl, starts consultd from
--bin on a free port, measures, and stops it. Every loop is bounded in count and time; traffic goes
to 127.0.0.1 only. fsync and synchronous_commit stay on (the cluster's settings).
"""
import argparse, os, re, signal, socket, statistics, subprocess, sys, threading, time, uuid


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


class Setup:
    """A fresh database with organisations o1..oN and an open consultation c1, and a consultd."""

    def __init__(self, bindir, organisations, daemon_args=()):
        self.bindir = bindir
        self.db = "hostile_" + uuid.uuid4().hex[:12]
        run("psql", "-qc", f"CREATE DATABASE {self.db}")
        self.conninfo = f"dbname={self.db}"
        run(f"{bindir}/consultctl", "migrate", "--database", self.conninfo)
        self.tokens = {}
        for n in range(1, organisations + 1):
            out = run(f"{bindir}/consultctl", "org", "add", "--database", self.conninfo, "--id", f"o{n}", "--name", f"O{n}",
                      "--type", "ngo", "--level", "local", "--country", "JOR")
            self.tokens[f"o{n}"] = re.search(r"credential k1: (\S+)", out).group(1)
        run(f"{bindir}/consultctl", "consultation", "open", "--database", self.conninfo, "--id", "c1", "--title", "T",
            "--convener", "C", "--closes-at", "2099-01-01T00:00:00Z", "--stages", "design", "--languages", "ar",
            "--baseline", '{"gender": {"female": 0.5, "male": 0.5}}')
        self.log = open(f"/tmp/{self.db}.log", "w+")
        self.process = subprocess.Popen([f"{bindir}/consultd", "--database", self.conninfo, "--port", "0", *daemon_args],
                                        stderr=self.log, stdout=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            self.log.seek(0)
            match = re.search(r"listening=[^ \n]*:(\d+)", self.log.read())
            if match:
                self.port = int(match.group(1))
                break
            time.sleep(0.1)
        else:
            raise SystemExit("consultd did not start")

    def rss(self):
        status = open(f"/proc/{self.process.pid}/status").read()
        field = lambda name: int(re.search(rf"{name}:\s+(\d+)", status).group(1)) // 1024
        return field("VmRSS"), field("VmHWM")

    def connect(self, organisation=None):
        s = socket.create_connection(("127.0.0.1", self.port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        assert f.readline().startswith(b"OK consultd")
        if organisation:
            s.sendall(f"AUTH {organisation} {self.tokens[organisation]}\n".encode())
            assert f.readline().startswith(b"OK AUTH"), organisation
        return s, f

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def huge_submit(key):
    members = ", ".join(f'"f{n}_padding__": {n}' for n in range(2_600))
    return f"SUBMIT c1 {key} {{{members}}}\n".encode()


def memory(bindir, clients, requests):
    """`clients` connections each pipelining `requests` 61 KiB bodies (valid JSON, refused INVALID)."""
    setup = Setup(bindir, clients)
    try:
        before, _ = setup.rss()
        line = huge_submit("k")
        done = []

        def client(n):
            s, f = setup.connect(f"o{n}")
            reader_count = [0]

            def reader():
                while reader_count[0] < requests and f.readline():
                    reader_count[0] += 1
            t = threading.Thread(target=reader)
            t.start()
            for _ in range(requests):
                s.sendall(line)
            t.join(600)
            done.append(reader_count[0])
            s.close()
        started = time.time()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(1, clients + 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(900)
        after, peak = setup.rss()
        print(f"memory: {clients} client(s) x {requests} x {len(line) // 1024} KiB pipelined: RSS {before} MiB before, "
              f"peak {peak} MiB (+{peak - before}), {after} MiB after; {sum(done)} replies in {time.time() - started:.1f} s")
    finally:
        setup.stop()


def slots(bindir, daemon_args, trickle_seconds):
    """200 connections each sending one byte every 0.5 s; how many are still open, and when they closed."""
    setup = Setup(bindir, 1, daemon_args)
    try:
        sockets = []
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", setup.port))
            s.setblocking(False)
            sockets.append(s)
        start = time.time()
        open_ = set(range(200))
        closed_at = []
        while time.time() - start < trickle_seconds and open_:
            for i in list(open_):
                try:
                    s = sockets[i]
                    try:
                        while True:
                            data = s.recv(65536)
                            if not data:
                                raise ConnectionError
                    except BlockingIOError:
                        pass
                    s.send(b"P")
                except (ConnectionError, OSError):
                    open_.discard(i)
                    closed_at.append(time.time() - start)
            time.sleep(0.5)
        latest = f"last closed at {max(closed_at):.1f} s" if closed_at else "none closed"
        print(f"slots: 200 trickling unauthenticated connections, {len(open_)} still open after {trickle_seconds} s ({latest})")
        for s in sockets:
            s.close()
    finally:
        setup.stop()


def cluster_processes():
    data = os.path.join(os.path.dirname(os.environ["CONSULT_TEST_PGCTL"]), "data", "postmaster.pid")
    postmaster = int(open(data).readline())
    children = run("pgrep", "-P", str(postmaster)).split()
    return [postmaster] + [int(c) for c in children]


def frozen(bindir, daemon_args):
    """PostgreSQL stopped (SIGSTOP) for 10 s: how long SUBMIT and STATUS wait for a reply."""
    setup = Setup(bindir, 1, daemon_args)
    try:
        s, f = setup.connect("o1")
        body = '{"stage": "design", "language": "ar", "text": "x"}'
        s.sendall(f"SUBMIT c1 before {body}\n".encode())
        assert f.readline().startswith(b"OK")
        processes = cluster_processes()
        for pid in processes:
            os.kill(pid, signal.SIGSTOP)
        thaw = threading.Timer(10, lambda: [os.kill(pid, signal.SIGCONT) for pid in processes])
        thaw.start()
        try:
            results = []
            for request in (f"SUBMIT c1 frozen {body}", "STATUS c1 before"):
                started = time.time()
                s.sendall((request + "\n").encode())
                reply = f.readline().decode().strip()
                results.append(f"{request.split()[0]} {time.time() - started:.2f} s ({reply[:40]})")
            print("frozen database (10 s): " + "; ".join(results))
        finally:
            thaw.join()
    finally:
        setup.stop()


def fairness(bindir, status_count):
    """One organisation pipelining STATUS; another's AUTH latency meanwhile."""
    setup = Setup(bindir, 2)
    try:
        s, f = setup.connect("o1")
        s.sendall(b'SUBMIT c1 k1 {"stage": "design", "language": "ar", "text": "x"}\n')
        assert f.readline().startswith(b"OK")
        answered = [0]

        def reader():
            while answered[0] < status_count and f.readline():
                answered[0] += 1
        t = threading.Thread(target=reader)
        t.start()
        threading.Thread(target=lambda: s.sendall(b"STATUS c1 k1\n" * status_count)).start()
        latencies = []
        deadline = time.time() + 300
        while answered[0] < status_count and time.time() < deadline:
            started = time.time()
            c, cf = setup.connect()
            c.sendall(f"AUTH o2 {setup.tokens['o2']}\n".encode())
            assert cf.readline().startswith(b"OK AUTH")
            latencies.append(time.time() - started)
            c.close()
        t.join(300)
        print(f"fairness: {status_count} pipelined STATUS; another organisation's AUTH over {len(latencies)} tries: "
              f"median {statistics.median(latencies) * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    finally:
        setup.stop()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--scenario", default="all", choices=["all", "memory", "slots", "frozen", "fairness"])
    parser.add_argument("--new", action="store_true", help="the daemon has the new flags (--database-timeout, ...)")
    parser.add_argument("--clients", default="1,21", help="client counts for the memory scenario, comma-separated")
    args = parser.parse_args()
    bindir = os.path.abspath(args.bin)
    if args.scenario in ("all", "memory"):
        for clients in args.clients.split(","):
            memory(bindir, int(clients), 4_000)
    if args.scenario in ("all", "slots"):
        slots(bindir, ["--idle-timeout", "5"], 20)
    if args.scenario in ("all", "frozen"):
        frozen(bindir, ["--database-timeout", "5"] if args.new else [])
    if args.scenario in ("all", "fairness"):
        fairness(bindir, 50_000)


if __name__ == "__main__":
    main()
