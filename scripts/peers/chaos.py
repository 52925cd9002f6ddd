#!/usr/bin/env python3
"""The fault test behind scripts/chaos: a seeded workload through the whole pipeline while daemons
are killed with SIGKILL and restarted and the dev broker is paused (SIGSTOP/SIGCONT); then the
results are checked against offline computations.

  chaos.py BIN_DIR WORK_DIR --events N --people P --accounts A --kill-every S --seed K

Checks, printed as counts that must all be zero:
- profiles: the final cdp.profiles view vs `cdp resolve` run offline over the same events;
- memberships: the final cdp.memberships view vs the audiences evaluated offline (`cdp ql eval`)
  over those offline profiles;
- webhooks: every transition on cdp.memberships for a job's audiences reached its receiver
  (lost), no transition arrived under two ids (duplicated), and per profile they arrived in log
  order (out of order). Redeliveries of the same id are counted but allowed (idempotency key).
Exit status 1 when any check fails."""
import argparse
import hashlib
import http.server
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("work")
ap.add_argument("--events", type=int, default=200_000)
ap.add_argument("--people", type=int, default=20_000)
ap.add_argument("--accounts", type=int, default=3)
ap.add_argument("--kill-every", type=float, default=4.0)
ap.add_argument("--seed", type=int, default=7)
ap.add_argument("--partitions", type=int, default=16)
ap.add_argument("--segmenters", type=int, default=1, help="segmenter replicas sharing cdp.profiles' partitions")
ap.add_argument("--resolvers", type=int, default=1, help="resolver replicas sharing cdp.events' partitions")
ap.add_argument("--exporters", type=int, default=1, help="exporter replicas sharing cdp.memberships' partitions")
ap.add_argument("--duration", type=float, default=None, help="seconds to spread the posting over (default: events / 1500)")
args = ap.parse_args()
rng = random.Random(args.seed)
TOKEN = "chaos-admin-token-0123456789"
NOW_MS = int(time.time() * 1000)
HOUR, DAY = 3_600_000, 86_400_000
os.makedirs(args.work, exist_ok=True)


class Server(http.server.ThreadingHTTPServer):
    # A real listen backlog: the default of 5 drops connections when many lanes post at once.
    request_queue_size = 256
    daemon_threads = True


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes
procs = {}
ports = {"collector": 0, "resolver": 1, "segmenter": 2, "exporter": 3}
for daemon, count in (("segmenter", args.segmenters), ("resolver", args.resolvers), ("exporter", args.exporters)):
    for n in range(2, count + 1):
        ports[f"{daemon}{n}"] = len(ports)


def replicas(daemon):
    """The names of a daemon's replicas (exporter, exporter2, ...)."""
    return [name for name in ports if name.rstrip("0123456789") == daemon]
rng.randrange(20000)  # drawn as before, so the seeded workload stays the same


def free_port():
    """A port nothing listens on now (the kernel's pick): a fixed, seeded port range collided
    with ports other tests running at the same time had taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


http_ports = {name: free_port() for name in ports}
env_common = dict(os.environ, CDP_ADMIN_TOKEN=TOKEN, CDP_LOG_LEVEL="warning", CDP_SESSION_TIMEOUT_MS="6000",
                  CDP_SNAPSHOT_INTERVAL="3s", CDP_EXPORTER_RETRY_BASE_MS="100", CDP_EXPORTER_RETRY_MAX_MS="1000")


def url(name):
    return f"http://127.0.0.1:{http_ports[name]}"


def start_broker():
    addr = os.path.join(args.work, "broker.addr")
    p = subprocess.Popen([os.path.join(args.bin, "cdp-devbroker"), "--partitions", str(args.partitions), "--address-file", addr,
                          "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=open(os.path.join(args.work, "broker.log"), "a"))
    for _ in range(200):
        if os.path.exists(addr) and open(addr).read().strip():
            break
        time.sleep(0.05)
    procs["broker"] = p
    return open(addr).read().strip()


def start(name):
    env = dict(env_common, CDP_BROKERS=BROKERS, CDP_HTTP_ADDR=f"127.0.0.1:{http_ports[name]}",
               CDP_DATA_DIR=os.path.join(args.work, "data", name))
    binary = name.rstrip("0123456789")  # segmenter2, ...: more replicas of cdp-segmenter
    procs[name] = subprocess.Popen([os.path.join(args.bin, f"cdp-{binary}")], env=env, stdout=subprocess.DEVNULL,
                                   stderr=open(os.path.join(args.work, f"{name}.log"), "a"))


def ready(name):
    try:
        with urllib.request.urlopen(url(name) + "/readyz", timeout=2) as r:
            return r.status == 200
    except Exception:
        return False


def wait_ready(names, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if all(ready(n) for n in names):
            return
        time.sleep(0.1)
    raise SystemExit(f"not ready within {timeout} s: {[n for n in names if not ready(n)]}")


def api(method, path, body=None, daemon="collector", attempts=200):
    for _ in range(attempts):
        try:
            req = urllib.request.Request(url(daemon) + path, data=json.dumps(body).encode() if body is not None else None, method=method,
                                         headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            if e.code in (409,) and method == "POST":
                return {}
            if e.code < 500 and e.code != 404:
                raise
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"{method} {path} kept failing")


# ---------------------------------------------------------------- receivers
received = {"steady": [], "flaky": []}   # (id, event, status, time)
recv_lock = threading.Lock()
flaky_rng = random.Random(args.seed + 1)


def receiver(job):
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with recv_lock:
                status = 500 if job == "flaky" and flaky_rng.random() < 0.25 else 200
                try:
                    events = json.loads(body).get("events", [])
                except ValueError:
                    events = []
                now = time.time()
                for e in events:
                    received[job].append((e["id"], e, status, now))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    s = Server(("127.0.0.1", 0), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s.server_address[1]


# ---------------------------------------------------------------- workload
def workload():
    """Seeded events: page views with cookies (half in the last hour, half 3-5 days ago), a third of
    the people sign up with an email on a second device and log in on the first (merges)."""
    events = []
    per_person = max(1, args.events // args.people)
    people = [(f"a{p % args.accounts}", p) for p in range(args.people)]
    for acct, p in people:
        recent = rng.random() < 0.5
        t0 = NOW_MS - (rng.randrange(3600) * 1000 if recent else 3 * DAY + rng.randrange(2 * DAY))
        for v in range(per_person):
            page = rng.choice(["pricing", "docs", "blog", "features"])
            events.append((acct, {"_uid": f"c{p}", "url": f"https://shop.example/{page}", "_ts": t0 + v * 1000}))
        if p % 3 == 0:
            events.append((acct, {"_uid": f"m{p}", "email": f"person{p}@example.com", "url": "https://shop.example/signup", "_ts": t0 + per_person * 1000}))
            events.append((acct, {"_uid": f"c{p}", "email": f"person{p}@example.com", "url": "https://shop.example/account", "_ts": t0 + per_person * 1000 + 500}))
    # Interleave people (events of one person stay in order).
    rng.shuffle(people)
    order = {p: i for i, (_, p) in enumerate(people)}
    events.sort(key=lambda e: (order[int(e[1]["_uid"][1:])] % 97, e[1]["_ts"]))
    out = []
    for i, (acct, data) in enumerate(events):
        data = dict(data, _id=f"e{i}")
        out.append((acct, data))
    return out


def post_all(events, done):
    """Sends events in batches of 200, each batch to its account, retrying until accepted (event ids
    make retries harmless)."""
    by_account = {}
    for acct, data in events:
        by_account.setdefault(acct, []).append(data)
    batches = []
    for acct, items in by_account.items():
        for i in range(0, len(items), 200):
            batches.append((acct, items[i:i + 200]))
    batches.sort(key=lambda b: b[1][0]["_id"][1:].zfill(9))
    duration = args.duration if args.duration is not None else max(10.0, len(events) / 1500)
    started = time.time()
    for n, (acct, items) in enumerate(batches):
        # Spread over `duration`, so the kills land while events flow.
        delay = started + n * duration / len(batches) - time.time()
        if delay > 0:
            time.sleep(delay)
        body = "\n".join(json.dumps(d) for d in items).encode()
        while True:
            try:
                req = urllib.request.Request(url("collector") + f"/collect/json/web?aid={acct}", data=body, method="POST",
                                             headers={"Authorization": "Bearer " + TOKEN})
                with urllib.request.urlopen(req, timeout=30) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            time.sleep(0.2)
        if n % 50 == 0:
            log(f"posted {n + 1}/{len(batches)} batches")
    done.set()


# ---------------------------------------------------------------- chaos
kills = {**{name: 0 for name in ports}, "broker_pauses": 0}


def chaos(stop):
    victims = list(ports)
    round_ = 0
    while not stop.wait(args.kill_every):
        round_ += 1
        if round_ % 3 == 0:
            procs["broker"].send_signal(signal.SIGSTOP)
            time.sleep(1.5)
            procs["broker"].send_signal(signal.SIGCONT)
            kills["broker_pauses"] += 1
            log("paused the broker for 1.5 s")
            continue
        name = rng.choice(victims)
        procs[name].kill()
        procs[name].wait()
        kills[name] += 1
        log(f"killed {name} (SIGKILL)")
        time.sleep(0.5)
        start(name)


# ---------------------------------------------------------------- reading topics
def read_topic(topic):
    """Every record of a topic: (partition, offset, key, value)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": BROKERS, "group.id": f"chaos-read-{time.time()}", "enable.auto.commit": False})
    md = c.list_topics(topic, timeout=10)
    parts = list(md.topics[topic].partitions.keys())
    ends = {}
    tps = []
    for p in parts:
        lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
        ends[p] = hi
        tps.append(TopicPartition(topic, p, lo))
    c.assign(tps)
    out = []
    done = {p: (ends[p] == 0) for p in parts}
    idle = 0
    while not all(done.values()) and idle < 100:
        m = c.poll(0.2)
        if m is None or m.error():
            idle += 1
            continue
        idle = 0
        out.append((m.partition(), m.offset(), (m.key() or b"").decode(), m.value()))
        if m.offset() + 1 >= ends[m.partition()]:
            done[m.partition()] = True
    c.close()
    return sorted(out, key=lambda r: (r[0], r[1]))


# ---------------------------------------------------------------- main
BROKERS = start_broker()
for name in ports:
    start(name)
wait_ready(list(ports))
hooks = {"steady": receiver("steady"), "flaky": receiver("flaky")}
accounts = [f"a{i}" for i in range(args.accounts)]
for a in accounts:
    api("POST", "/api/account", {"id": a})
    api("POST", f"/api/segment?aid={a}", {"id": "pricing", "name": "Pricing", "slug": "pricing", "filterql": 'FILTER urls CONTAINS "/pricing"'})
    api("POST", f"/api/segment?aid={a}", {"id": "recent", "name": "Recent", "slug": "recent", "filterql": 'FILTER last_visit > "now-1d"'})
    for job, segs in (("steady", ["pricing", "known_users"]), ("flaky", ["recent"])):
        api("POST", f"/api/work?aid={a}", {"id": job, "type": "webhook", "name": job, "segments": segs, "batch": {"max_users": 100},
                                          "destination": {"url": f"http://127.0.0.1:{hooks[job]}/hook", "secret": "chaos-secret-0123456789"}})
deadline = time.time() + 60
while time.time() < deadline:
    try:
        # Every partition's lane, whichever exporter replica owns it.
        if all(sum(len(api("GET", f"/api/work/{j}?aid={a}", daemon=e, attempts=1).get("data", {}).get("partitions", [])) for e in replicas("exporter"))
               == args.partitions for a in accounts for j in ("steady", "flaky")):
            break
    except (Exception, SystemExit):  # api() gives up with SystemExit; here the deadline decides
        pass
    time.sleep(0.2)

events = workload()
with open(os.path.join(args.work, "events.ndjson"), "w") as f:
    for acct, d in events:
        f.write(json.dumps({"v": 1, "aid": acct, "stream": "web", "id": d["_id"], "ts": d["_ts"],
                            "data": d}) + "\n")
log(f"workload: {len(events)} events from {args.people} people in {args.accounts} accounts; killing something every {args.kill_every} s")
stop = threading.Event()
posted = threading.Event()
chaos_thread = threading.Thread(target=chaos, args=(stop,), daemon=True)
chaos_thread.start()
post_all(events, posted)
time.sleep(args.kill_every * 2)  # a few more faults while the backlog drains
stop.set()
chaos_thread.join()
for name in ports:
    if procs[name].poll() is not None:
        start(name)
wait_ready(list(ports), timeout=300)
log("all events accepted; waiting for the pipeline to settle")


def consumer_lag(name):
    """Records not read yet by a daemon (its <daemon>_consumer_lag_records series); None if unknown."""
    try:
        with urllib.request.urlopen(url(name) + "/metrics", timeout=5) as r:
            text = r.read().decode()
    except Exception:
        return None
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines() if line.split("{", 1)[0].endswith("_consumer_lag_records"))


def settled_state():
    """Webhooks received, and what is still in flight: events waiting in exporter lanes, records
    the resolver, segmenter and exporter replicas have not read, daemons not ready (a rebalance
    after a kill can make a replica rebuild well after the others went quiet)."""
    with recv_lock:
        n = sum(len(v) for v in received.values())
    busy = 0
    for a in accounts:
        for j in ("steady", "flaky"):
            busy += sum(api("GET", f"/api/work/{j}?aid={a}", daemon=e).get("data", {}).get("queued", 0) for e in replicas("exporter"))
    for name in ports:
        if not ready(name):
            busy += 1
        elif name != "collector":
            lag = consumer_lag(name)
            busy += 1 if lag is None else lag
    return n, busy


last = None
stable = 0
deadline = time.time() + 600
while time.time() < deadline:
    state = settled_state()
    stable = stable + 1 if state == last and state[1] == 0 else 0
    if stable >= 8:
        break
    last = state
    time.sleep(1)

# ---------------------------------------------------------------- checks
problems = {}
bin_cdp = os.path.join(args.bin, "cdp")
# Profiles: the log's final view vs an offline run over the same events.
final = {}
for p, o, key, value in read_topic("cdp.profiles"):
    if value is None:
        final.pop(key, None)
        continue
    j = json.loads(value)
    if j.get("deleted"):
        final.pop(key, None)
    elif key not in final or j["version"] >= final[key]["version"]:
        final[key] = j
offline = {}
for a in accounts:
    mine = [line for line in open(os.path.join(args.work, "events.ndjson")) if json.loads(line)["aid"] == a]
    r = subprocess.run([bin_cdp, "resolve", "--account", a, "--events", "-"], input="".join(mine), capture_output=True, text=True, check=True)
    for line in r.stdout.splitlines():
        j = json.loads(line)
        offline[f"{a}/{j['id']}"] = j


def essence(p):
    return json.dumps({"identities": {k: sorted(v) for k, v in p.get("identities", {}).items()}, "fields": p.get("fields", {})}, sort_keys=True)


profile_diff = sorted(set(final) ^ set(offline)) + [k for k in set(final) & set(offline) if essence(final[k]) != essence(offline[k])]
problems["profiles differing from the offline run"] = len(profile_diff)
if profile_diff:
    log(f"first differing profiles: {profile_diff[:3]}")

# Memberships: the log's final view vs the audiences evaluated offline.
memberships_log = read_topic("cdp.memberships")
final_members = {}
for p, o, key, value in memberships_log:
    if value is None:
        continue
    j = json.loads(value)
    final_members[key] = set(j.get("segments", []))
audiences = {"all_users": "FILTER *", "known_users": "FILTER EXISTS email", "anonymous_users": "FILTER NOT EXISTS email",
             "pricing": 'FILTER urls CONTAINS "/pricing"', "recent": 'FILTER last_visit > "now-1d"'}
now_text = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
cases, keys = [], []
for key, prof in sorted(offline.items()):
    data = {}
    types = prof.get("types", {})
    for name, values in prof.get("identities", {}).items():
        data[name] = values[0] if len(values) == 1 else values
    for name, v in prof.get("fields", {}).items():
        data[name] = {"$time": v} if types.get(name) == "time" and isinstance(v, str) else v
    for slug, f in audiences.items():
        cases.append(json.dumps({"expr": f, "data": data, "now": now_text}))
        keys.append((key, slug, prof.get("meta", {}).get("unhealthy", False)))
r = subprocess.run([bin_cdp, "ql", "eval"], input="\n".join(cases) + "\n", capture_output=True, text=True, check=True)
expected_members = {}
for (key, slug, unhealthy), line in zip(keys, r.stdout.splitlines()):
    expected_members.setdefault(key, set())
    if json.loads(line).get("match") and not unhealthy:
        expected_members[key].add(slug)
member_diff = [k for k in set(expected_members) | set(final_members) if expected_members.get(k, set()) != final_members.get(k, set())]
problems["memberships differing from offline evaluation"] = len(member_diff)
if member_diff:
    log(f"first differing memberships: {[(k, sorted(expected_members.get(k, [])), sorted(final_members.get(k, []))) for k in member_diff[:3]]}")

# Webhooks: every transition for a job's audiences, once by id, in order per profile.
jobs = {"steady": {"pricing", "known_users"}, "flaky": {"recent"}}
lost = dup = out_of_order = redelivered = 0
for job, segs in jobs.items():
    expected = {}     # id -> (account, profile, index)
    per_profile = {}  # (account, profile) -> [ids in log order]
    for p, o, key, value in memberships_log:
        if value is None:
            continue
        j = json.loads(value)
        visible = [t for t in j.get("transitions", []) if t["segment"] in segs]
        # Exits first, then enters, each sorted by slug (as ItemDerivation does).
        for action in ("exit", "enter"):
            for t in sorted((t for t in visible if t["action"] == action), key=lambda t: t["segment"]):
                ident = "d_" + hashlib.sha256(f"{job}|1|m|{p}|{o}|{t['segment']}|{action}".encode()).hexdigest()[:24]
                expected[ident] = (j["aid"], j["profile"])
                per_profile.setdefault((j["aid"], j["profile"]), []).append(ident)
    with recv_lock:
        got = [(i, e, t) for (i, e, s, t) in received[job] if s == 200]
    first = {}
    for i, e, t in got:
        if i in first:
            redelivered += 1
        else:
            first[i] = t
    lost += len(set(expected) - set(first))
    dup += len(set(first) - set(expected))
    for ids in per_profile.values():
        times = [first[i] for i in ids if i in first]
        out_of_order += sum(1 for a, b in zip(times, times[1:]) if b < a)
    # A transition announced twice (e.g. re-published after a crash) shows as enter, enter.
    seq = {}
    for i, e, t in sorted(((i, e, t) for i, e, t in got), key=lambda x: x[2]):
        if first.get(i) != t:
            continue
        seq.setdefault((e["profile_id"], e["segment"]), []).append(e["action"])
    for actions in seq.values():
        dup += sum(1 for a, b in zip(actions, actions[1:]) if a == b)
        dup += 1 if actions and actions[0] == "exit" else 0
problems["webhook transitions lost"] = lost
problems["webhook transitions duplicated (another id)"] = dup
problems["webhook transitions out of order"] = out_of_order

for name in ports:
    procs[name].terminate()
for name in ports:
    try:
        procs[name].wait(timeout=30)
    except subprocess.TimeoutExpired:
        procs[name].kill()
procs["broker"].terminate()
procs["broker"].wait(timeout=30)

summary = {"events": len(events), "profiles": len(final), "membership_records": len(memberships_log),
           "webhook_events_received": sum(len(v) for v in received.values()), "redelivered_same_id": redelivered,
           "kills": kills, **problems}
print(json.dumps(summary, indent=2))
sys.exit(1 if any(problems.values()) else 0)
