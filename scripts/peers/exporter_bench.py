#!/usr/bin/env python3
"""Drives the exporter benchmark: a local webhook receiver plus a producer of membership records.

  exporter_bench.py BOOTSTRAP COLLECTOR_URL EXPORTER_URL TOKEN ENTERS RATE SECONDS

1. baseline: POST ENTERS events in batches of 1,000 straight to the receiver (its ceiling);
2. throughput: ENTERS profiles and their enters onto cdp.profiles / cdp.memberships at once,
   time until the receiver has every event (deliveries/s);
3. latency: RATE enters per second for SECONDS, each stamped with its produce time; the receiver
   measures membership record -> webhook receipt (p50/p99).
Prints one JSON object.
"""
import http.server
import json
import sys
import threading
import time
import urllib.error
import urllib.request

from confluent_kafka import Producer

bootstrap, collector, exporter, token, enters, rate, seconds = sys.argv[1:8]
enters, rate, seconds = int(enters), int(rate), int(seconds)
class Server(http.server.ThreadingHTTPServer):
    # A real listen backlog: the default of 5 drops connections when many lanes post at once.
    request_queue_size = 256
    daemon_threads = True


lock = threading.Lock()
received = {}      # event id -> receipt ms
latencies = []     # ms, for events whose ts is in the latency phase
phase = {"latency": False}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = time.time() * 1000
        try:
            events = json.loads(body).get("events", [])
        except ValueError:
            events = []
        with lock:
            for e in events:
                received.setdefault(e["id"], now)
                if phase["latency"] and e.get("user", {}).get("phase") == "latency":
                    ts = e.get("ts", "")
                    sent = time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 - time.timezone * 1000 + int(ts[20:23])
                    latencies.append(now - sent)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = Server(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]


def api(method, url, body=None):
    req = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None, method=method,
                                 headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


def progress(msg):
    print(msg, file=sys.stderr, flush=True)


# 1. Baseline: the receiver's own ceiling for batches of 1,000.
progress(f"== baseline: {enters} events straight to the receiver")
batch = [{"id": f"base-{i}", "profile_id": f"p{i}", "segment": "all_users", "action": "enter", "ts": "2026-11-29T10:00:00.000Z",
          "user": {"email": f"p{i}@example.com", "plan": "pro"}} for i in range(1000)]
t0 = time.time()
for b in range(enters // 1000):
    for e in batch:
        e["id"] = f"base-{b}-{e['profile_id']}"
    data = json.dumps({"job": "baseline", "batch_id": f"b{b}", "events": batch}).encode()
    urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/hook", data=data, method="POST"), timeout=30).read()
baseline_s = time.time() - t0
with lock:
    received.clear()

api("POST", collector + "/api/account", {"id": "bench"})
job = {"id": "bench", "type": "webhook", "name": "bench", "segments": ["all_users"], "fields": ["plan", "phase"], "existing_users": False,
       "batch": {"max_users": 1000, "max_wait_s": 0}, "destination": {"url": f"http://127.0.0.1:{port}/hook", "secret": "bench-secret-0123456789"}}
api("POST", collector + "/api/work?aid=bench", job)
for _ in range(300):
    try:
        status = api("GET", exporter + "/api/work/bench?aid=bench")["data"]
        if len(status.get("partitions", [])) >= 1 and status["state"] == "running":
            break
    except urllib.error.HTTPError:
        pass  # the exporter has not seen the job yet
    time.sleep(0.1)
time.sleep(1)

p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "linger.ms": 5, "enable.idempotence": True,
              "queue.buffering.max.messages": 1000000})


def produce(topic, key, value):
    while True:
        try:
            p.produce(topic, key=key, value=value)
            return
        except BufferError:
            p.poll(0.05)


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms / 1000)) + ".%03dZ" % (ms % 1000)


def send(i, tag):
    key = f"bench/{tag}{i}"
    ms = int(time.time() * 1000)
    produce("cdp.profiles", key, json.dumps({"v": 1, "aid": "bench", "id": f"{tag}{i}", "version": 1,
              "identities": {"email": [f"{tag}{i}@example.com"]}, "fields": {"plan": "pro", "phase": tag}}))
    produce("cdp.memberships", key, json.dumps({"v": 1, "aid": "bench", "profile": f"{tag}{i}", "version": 1,
              "segments": ["all_users"], "transitions": [{"action": "enter", "segment": "all_users", "version": 1, "ts": iso(ms)}]}))


# 2. Throughput.
progress(f"== throughput: {enters} enters through cdp-exporter")
t0 = time.time()
for i in range(enters):
    send(i, "throughput")
    if i % 10000 == 0:
        p.poll(0)
p.flush(60)
produced_s = time.time() - t0
deadline = time.time() + 600
while time.time() < deadline:
    with lock:
        n = len(received)
    if n >= enters:
        break
    time.sleep(0.05)
with lock:
    last = max(received.values()) if received else 0
    got = len(received)
throughput_s = last / 1000 - t0 if got else float("nan")

# 3. Latency at a fixed rate.
progress(f"== latency: {rate} enters/s for {seconds} s")
phase["latency"] = True
interval = 1.0 / rate
start = time.time()
for i in range(rate * seconds):
    target = start + i * interval
    delay = target - time.time()
    if delay > 0:
        time.sleep(delay)
    send(i, "latency")
    p.poll(0)
p.flush(30)
time.sleep(2)
with lock:
    lat = sorted(latencies)


def pct(q):
    return round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None


print(json.dumps({
    "enters": enters, "delivered": got,
    "deliveries_per_s": round(got / throughput_s) if got else 0,
    "produce_s": round(produced_s, 2), "throughput_s": round(throughput_s, 2),
    "receiver_baseline_per_s": round(enters / baseline_s),
    "latency_rate_per_s": rate, "latency_samples": len(lat), "latency_p50_ms": pct(0.5), "latency_p99_ms": pct(0.99),
}))
