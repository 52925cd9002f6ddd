#!/usr/bin/env python3
"""End-to-end latency driver for scripts/bench-e2e.

  e2e_bench.py BOOTSTRAP COLLECTOR_URL EXPORTER_URL TOKEN RATES SECONDS PARTITIONS

Creates account `bench`, an audience of /pricing visitors and a webhook export to a local
receiver; then, for each rate in RATES (comma-separated events/s), POSTs new visitors to
/collect/json/web (about 100 requests/s) for SECONDS and measures, per event: POST -> membership record
on cdp.memberships (seen by a consumer), and POST -> webhook receipt. Prints one JSON object:
per rate p50/p95/p99 of both, and the highest rate whose webhook p99 stayed under 1 s."""
import hashlib
import http.client
import http.server
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from confluent_kafka import Consumer

bootstrap, collector, exporter, token, rates, seconds, partitions = sys.argv[1:8]
partitions = int(partitions)
rates = [int(r) for r in rates.split(",")]
seconds = int(seconds)
class Server(http.server.ThreadingHTTPServer):
    # A real listen backlog: the default of 5 drops connections when many lanes post at once.
    request_queue_size = 256
    daemon_threads = True


lock = threading.Lock()
sent = {}        # uid -> POST time (s)
hooked = {}      # uid -> webhook receipt time
member = {}      # profile id -> first membership record time
pid_of = {}      # profile id -> uid


class Hook(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = time.time()
        try:
            events = json.loads(body).get("events", [])
        except ValueError:
            events = []
        with lock:
            for e in events:
                uid = pid_of.get(e.get("profile_id"))
                if uid and uid not in hooked:
                    hooked[uid] = now
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = Server(("127.0.0.1", 0), Hook)
threading.Thread(target=server.serve_forever, daemon=True).start()
stop = threading.Event()


def consume():
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"e2e-bench-{time.time()}", "auto.offset.reset": "latest",
                  "enable.auto.commit": False, "fetch.wait.max.ms": 5, "fetch.min.bytes": 1})
    c.subscribe(["cdp.memberships"])
    while not stop.is_set():
        m = c.poll(0.1)
        if m is None or m.error():
            continue
        now = time.time()
        key = (m.key() or b"").decode()
        pid = key.split("/", 1)[-1]
        with lock:
            member.setdefault(pid, now)
    c.close()


threading.Thread(target=consume, daemon=True).start()


def api(method, url, body=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


api("POST", collector + "/api/account", {"id": "bench"})
api("POST", collector + "/api/segment?aid=bench", {"id": "pricing", "name": "Pricing", "slug": "pricing", "filterql": 'FILTER urls CONTAINS "/pricing"'})
api("POST", collector + "/api/work?aid=bench", {"id": "hook", "type": "webhook", "name": "hook", "segments": ["pricing"], "existing_users": False,
                                               "destination": {"url": f"http://127.0.0.1:{server.server_address[1]}/hook", "secret": "bench-secret-0123456789"}})
for _ in range(300):
    try:
        if len(api("GET", exporter + "/api/work/hook?aid=bench")["data"].get("partitions", [])) >= partitions:
            break
    except urllib.error.HTTPError:
        pass
    time.sleep(0.1)
time.sleep(3)  # the consumer joins its group

target = urllib.parse.urlparse(collector)


def pct(values, q):
    if not values:
        return None
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


results = []
counter = 0
for rate in rates:
    print(f"== {rate} events/s for {seconds} s", file=sys.stderr, flush=True)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
    batch = max(10, rate // 100)  # about 100 requests/s whatever the rate
    interval = batch / rate
    start = time.time()
    uids = []
    i = 0
    behind = 0
    while time.time() - start < seconds:
        due = start + i * interval
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1:
            behind += 1
        lines = []
        now = time.time()
        with lock:
            for _ in range(batch):
                uid = f"v{counter}"
                counter += 1
                sent[uid] = now
                pid_of["p_" + hashlib.sha256(f"bench/_uid={uid}".encode()).hexdigest()[:13]] = uid  # as IdentityGraph.newProfileID
                uids.append(uid)
                lines.append(json.dumps({"_uid": uid, "url": "https://shop.example/pricing"}))
        conn.request("POST", "/collect/json/web?aid=bench", body="\n".join(lines), headers={"Authorization": "Bearer " + token})
        r = conn.getresponse()
        r.read()
        i += 1
    achieved = len(uids) / (time.time() - start)
    deadline = time.time() + 15
    while time.time() < deadline:
        with lock:
            if all(u in hooked for u in uids):
                break
        time.sleep(0.1)
    with lock:
        hook_lat = [hooked[u] - sent[u] for u in uids if u in hooked]
        uid_set = set(uids)
        mem_lat = [t - sent[pid_of[p]] for p, t in member.items() if p in pid_of and pid_of[p] in uid_set]
    results.append({"rate": rate, "achieved_per_s": round(achieved), "events": len(uids), "webhooks": len(hook_lat),
                    "membership_p50_ms": pct(mem_lat, 0.5), "membership_p95_ms": pct(mem_lat, 0.95), "membership_p99_ms": pct(mem_lat, 0.99),
                    "webhook_p50_ms": pct(hook_lat, 0.5), "webhook_p95_ms": pct(hook_lat, 0.95), "webhook_p99_ms": pct(hook_lat, 0.99)})
    print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    if len(hook_lat) < len(uids) or (results[-1]["webhook_p99_ms"] or 1e9) > 1000:
        break
    time.sleep(2)

stop.set()
ok = [r for r in results if r["webhooks"] == r["events"] and (r["webhook_p99_ms"] or 1e9) <= 1000 and r["achieved_per_s"] >= 0.9 * r["rate"]]
print(json.dumps({"runs": results, "max_sustained_events_per_s": max((r["achieved_per_s"] for r in ok), default=0)}))
