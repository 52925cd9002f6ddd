#!/usr/bin/env python3
"""Helpers for scripts/bench-segmenter.

  segmenter_bench.py generate N OUT.tsv SEED VERSION   profiles as cdp.profiles records (key<TAB>value)
  segmenter_bench.py audiences                          the 100 audiences as JSON lines {id, filterql, sql}
  segmenter_bench.py sqlite DB N CHANGES SEED           the SQLite side: load, 100 full scans, CHANGES
                                                        updates each followed by evaluating all 100
Times are day-aligned and 12 h away from "now-k days" so a few seconds between the two sides never
flip a boundary."""
import json
import random
import sqlite3
import sys
import time

DAY = 86_400_000
NOW = (int(time.time() * 1000) // DAY) * DAY + DAY // 2


def profile(i, rng, version):
    return {
        "country": f"C{rng.randrange(10)}", "plan": rng.choice(["free", "team", "pro", "enterprise"]),
        "score": rng.randrange(1000), "visits": rng.randrange(120),
        "last_visit": NOW - rng.randrange(100) * DAY - DAY // 2,
        "email": f"user{i}@example.com" if rng.random() < 0.7 else None,
    }


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


def audiences():
    out = []
    for k in range(100):
        t = k % 5
        if t == 0:
            f, s = f'FILTER AND (score >= {k * 10}, country == "C{k % 10}")', f"score >= {k * 10} AND country = 'C{k % 10}'"
        elif t == 1:
            f, s = f'FILTER OR (plan IN ("pro", "enterprise"), visits > {k})', f"(plan IN ('pro','enterprise') OR visits > {k})"
        elif t == 2:
            f, s = f'FILTER last_visit > "now-{k // 5 + 1}d"', f"last_visit > {NOW} - {k // 5 + 1} * {DAY}"
        elif t == 3:
            f, s = f'FILTER AND (visits >= {k % 60}, visits <= {k % 60 + 20}, NOT country == "C{k % 7}")', \
                   f"visits >= {k % 60} AND visits <= {k % 60 + 20} AND NOT country = 'C{k % 7}'"
        else:
            f, s = f'FILTER AND (EXISTS email, score < {k * 10})', f"email IS NOT NULL AND score < {k * 10}"
        out.append({"id": f"a{k:03d}", "filterql": f, "sql": s})
    return out


def records(n, seed, version):
    rng = random.Random(seed)
    for i in range(n):
        p = profile(i, rng, version)
        fields = {k: v for k, v in p.items() if k != "email" and v is not None}
        fields["last_visit"] = iso(p["last_visit"])
        value = {"v": 1, "aid": "bench", "id": f"p{i}", "version": version, "fields": fields, "types": {"last_visit": "time"},
                 "identities": {"email": [p["email"]]} if p["email"] else {}}
        yield i, p, value


def main():
    cmd = sys.argv[1]
    if cmd == "generate":
        n, out, seed, version = int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
        with open(out, "w") as f:
            for i, _, value in records(n, seed, version):
                f.write(f"bench/p{i}\t{json.dumps(value, separators=(',', ':'))}\n")
    elif cmd == "audiences":
        for a in audiences():
            print(json.dumps(a))
    elif cmd == "sqlite":
        db, n, changes, seed = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        con = sqlite3.connect(db)
        con.execute("CREATE TABLE profiles (id TEXT PRIMARY KEY, country TEXT, plan TEXT, score INTEGER, visits INTEGER, last_visit INTEGER, email TEXT)")
        con.executemany("INSERT INTO profiles VALUES (?,?,?,?,?,?,?)",
                        ((f"p{i}", p["country"], p["plan"], p["score"], p["visits"], p["last_visit"], p["email"]) for i, p, _ in records(n, 1, 1)))
        con.commit()
        auds = audiences()
        sql = [a["sql"] for a in auds]
        t0 = time.time()
        sizes = {a["id"]: con.execute(f"SELECT count(*) FROM profiles WHERE {s}").fetchone()[0] for a, s in zip(auds, sql)}
        backfill_s = time.time() - t0
        select = "SELECT " + ", ".join(f"({s})" for s in sql) + " FROM profiles WHERE id = ?"
        t0 = time.time()
        for i, p, _ in records(changes, seed, 2):
            con.execute("UPDATE profiles SET country=?, plan=?, score=?, visits=?, last_visit=?, email=? WHERE id=?",
                        (p["country"], p["plan"], p["score"], p["visits"], p["last_visit"], p["email"], f"p{i}"))
            con.execute(select, (f"p{i}",)).fetchone()
        con.commit()
        changes_s = time.time() - t0
        print(json.dumps({"sqlite_backfill_s": round(backfill_s, 2), "sqlite_changes_per_s": round(changes / changes_s),
                          "sqlite_sizes": sizes}))


main()
