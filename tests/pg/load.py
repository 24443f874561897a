#!/usr/bin/env python3
"""load.py - concurrent payment clients for tests/pg/run_pg_nodes.sh (loopback only).

  load.py load --ports P1,P2 --users FILE --clients N --seconds S --out FILE [--seed N]
      N client threads, client i talking to port i mod len(ports) over one keep-alive
      connection, each sending POST /v1/payments between random users of FILE (a JSON list of
      {"handle", "token"}) until S seconds have passed. Every answer (or failure to get one)
      is one JSON line of --out: client, port, status (0 when the connection failed), id and
      fee of a 201, from, to, amount, t (seconds since the start, when the answer came).
      A client whose connection fails reconnects after 50 ms and goes on.
  load.py verify --port P --users FILE --payments FILE
      GET /v1/payments/{id} on port P, with the sender's token, for every 201 of a load output;
      each must answer 200 with the same amount, sender and recipient. Prints one line
      "verify: N payments, M missing or different" and exits 1 if M > 0.
"""
import argparse
import http.client
import json
import random
import sys
import threading
import time


def connect(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=15)


def request(conn, method, path, token, body=None):
    headers = {"Authorization": "Bearer " + token}
    data = None
    if body is not None:
        data = json.dumps(body)
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def client(index, port, users, deadline, start, seed, out, lock):
    rng = random.Random(seed * 1000 + index)
    conn = connect(port)
    lines = []
    while time.monotonic() < deadline:
        sender, recipient = rng.sample(range(len(users)), 2)
        amount = rng.randint(1, 50)
        body = {"to": "@" + users[recipient]["handle"], "amount": amount, "currency": "USD"}
        row = {"client": index, "port": port, "from": sender, "to": recipient, "amount": amount}
        try:
            status, raw = request(conn, "POST", "/v1/payments", users[sender]["token"], body)
            row["status"] = status
            if status == 201:
                answer = json.loads(raw)
                row["id"] = answer["id"]
                row["fee"] = answer.get("fee", 0)
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            row["status"] = 0
            conn.close()
            time.sleep(0.05)
            conn = connect(port)
        row["t"] = round(time.monotonic() - start, 3)
        lines.append(json.dumps(row))
    conn.close()
    with lock:
        out.write("\n".join(lines) + ("\n" if lines else ""))


def cmd_load(args):
    users = json.load(open(args.users))
    ports = [int(p) for p in args.ports.split(",")]
    start = time.monotonic()
    deadline = start + args.seconds
    lock = threading.Lock()
    with open(args.out, "w") as out:
        threads = [
            threading.Thread(
                target=client,
                args=(i, ports[i % len(ports)], users, deadline, start, args.seed, out, lock),
            )
            for i in range(args.clients)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return 0


def cmd_verify(args):
    users = json.load(open(args.users))
    conn = connect(args.port)
    checked = bad = 0
    for line in open(args.payments):
        row = json.loads(line)
        if row["status"] != 201:
            continue
        checked += 1
        try:
            status, raw = request(conn, "GET", "/v1/payments/" + row["id"],
                                  users[row["from"]]["token"])
            got = json.loads(raw) if status == 200 else {}
        except (OSError, http.client.HTTPException, ValueError):
            conn.close()
            conn = connect(args.port)
            status, got = 0, {}
        if (status != 200 or got.get("amount") != row["amount"]
                or got.get("to", {}).get("handle") != users[row["to"]]["handle"]
                or got.get("from", {}).get("handle") != users[row["from"]]["handle"]):
            bad += 1
            if bad <= 5:
                print("verify: %s answered %d: %s" % (row["id"], status, json.dumps(got)[:200]))
    print("verify: %d payments, %d missing or different" % (checked, bad))
    return 1 if bad else 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    load = sub.add_parser("load")
    load.add_argument("--ports", required=True)
    load.add_argument("--users", required=True)
    load.add_argument("--clients", type=int, required=True)
    load.add_argument("--seconds", type=float, required=True)
    load.add_argument("--out", required=True)
    load.add_argument("--seed", type=int, default=1)
    verify = sub.add_parser("verify")
    verify.add_argument("--port", type=int, required=True)
    verify.add_argument("--users", required=True)
    verify.add_argument("--payments", required=True)
    args = parser.parse_args()
    return cmd_load(args) if args.command == "load" else cmd_verify(args)


if __name__ == "__main__":
    sys.exit(main())
