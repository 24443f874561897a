#!/usr/bin/env python3
"""drain_load.py - a payment load that a SIGTERM interrupts (tests/api/run_async.sh).

  drain_load.py --bases URL[,URL...] --tokens TA,TB --handles A,B --tag TAG --stop FILE
                --out FILE [--clients N] [--seed N]

N client threads (default 20) send POST /v1/payments of 1 USD between the two users, until
FILE exists or a client's server is gone, in four ways (client i does way WAYS[i mod 5], against
base i mod the number of bases, except duplicates, which all use the first base):
  0  one keep-alive connection, no Idempotency-Key;
  1  one keep-alive connection, a new key per payment;
  2  duplicates: every such client sends its n-th payment from A to B with the key TAG-d-n,
     so copies of one key are in flight together and park behind each other;
  3  (two clients in five) a new connection per payment that waits before sending it (a
     request that arrives while the server is draining: up to 20 ms for a quick drain, up to
     100 ms for one on PostgreSQL's slower commits, every other time), half of them keyed;
     one in four closes the connection as soon as the request is sent (a parked request
     whose client went away).
Every answer read is one line of --out, written as it comes: "STATUS ID" (ID "-" unless a 201;
STATUS 0 when the connection failed or closed without an answer). Loopback only; standard
library only.
"""
import argparse
import http.client
import json
import os
import random
import socket
import sys
import threading
import time
import urllib.parse

# A client gives up after this many failed connections in a row (its server is gone).
FAILURES_MAX = 20
# Safety net: no client runs longer than this.
SECONDS_MAX = 60
# The way of client i is WAYS[i % len(WAYS)].
WAYS = (0, 1, 2, 3, 3)


class Load:
    def __init__(self, args):
        self.bases = [urllib.parse.urlsplit(b) for b in args.bases.split(",")]
        self.tokens = args.tokens.split(",")
        self.handles = args.handles.split(",")
        self.tag = args.tag
        self.stop = args.stop
        self.deadline = time.monotonic() + SECONDS_MAX
        self.lock = threading.Lock()
        self.out = open(args.out, "w")

    def running(self):
        return not os.path.exists(self.stop) and time.monotonic() < self.deadline

    def note(self, status, raw):
        pay_id = "-"
        if status == 201:
            try:
                pay_id = json.loads(raw).get("id", "-")
            except ValueError:
                pay_id = "-"
        with self.lock:
            self.out.write("%d %s\n" % (status, pay_id))
            self.out.flush()

    def payment(self, sender, key):
        body = json.dumps({"to": "@" + self.handles[1 - sender], "amount": 1, "currency": "USD"})
        headers = {"Authorization": "Bearer " + self.tokens[sender],
                   "Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return body, headers


def keepalive(load, base, rng, way, index):
    conn = None
    failures = 0
    n = 0
    while load.running() and failures < FAILURES_MAX:
        n += 1
        sender = 0 if way == 2 else rng.randrange(2)
        key = None
        if way == 1:
            key = "%s-k-%d-%d" % (load.tag, index, n)
        elif way == 2:
            key = "%s-d-%d" % (load.tag, n)
        body, headers = load.payment(sender, key)
        try:
            if conn is None:
                conn = http.client.HTTPConnection(base.hostname, base.port, timeout=15)
            conn.request("POST", "/v1/payments", body=body, headers=headers)
            resp = conn.getresponse()
            load.note(resp.status, resp.read())
            failures = 0
            if (resp.getheader("Connection") or "").lower() == "close":
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException):
            load.note(0, b"")
            failures += 1
            if conn is not None:
                conn.close()
            conn = None
            time.sleep(0.01)


def read_answer(sock):
    """Status and body of one HTTP/1.1 answer with a Content-Length; (0, b"") if none."""
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return 0, b""
        data += chunk
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            continue
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(rest) >= length:
            return int(head.split(b" ")[1]), rest[:length]


def late(load, base, rng, index):
    failures = 0
    n = 0
    while load.running() and failures < FAILURES_MAX:
        n += 1
        sender = rng.randrange(2)
        key = "%s-l-%d-%d" % (load.tag, index, n) if rng.randrange(2) else None
        body, headers = load.payment(sender, key)
        headers["Host"] = "%s:%d" % (base.hostname, base.port)
        headers["Content-Length"] = str(len(body))
        request = "POST /v1/payments HTTP/1.1\r\n"
        request += "".join("%s: %s\r\n" % item for item in headers.items()) + "\r\n" + body
        try:
            with socket.create_connection((base.hostname, base.port), timeout=15) as sock:
                time.sleep(rng.random() * (0.02 if n % 2 else 0.1))
                sock.sendall(request.encode())
                if rng.randrange(4) == 0:
                    continue  # gone: the server may have parked it already
                status, raw = read_answer(sock)
            load.note(status, raw)
            failures = failures + 1 if status == 0 else 0
        except OSError:
            load.note(0, b"")
            failures += 1
            time.sleep(0.01)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bases", required=True)
    parser.add_argument("--tokens", required=True)
    parser.add_argument("--handles", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--stop", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    load = Load(args)
    threads = []
    for i in range(args.clients):
        rng = random.Random(args.seed * 1000 + i)
        way = WAYS[i % len(WAYS)]
        base = load.bases[0 if way == 2 else i % len(load.bases)]
        if way == 3:
            target, targs = late, (load, base, rng, i)
        else:
            target, targs = keepalive, (load, base, rng, way, i)
        threads.append(threading.Thread(target=target, args=targs))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
