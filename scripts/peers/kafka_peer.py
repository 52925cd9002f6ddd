#!/usr/bin/env python3
"""An outside Kafka client (confluent-kafka, its own newer librdkafka) for interop tests.

  kafka_peer.py produce BOOTSTRAP TOPIC COUNT     keyed records k<i> -> py-<i>, murmur2 partitioner
  kafka_peer.py consume BOOTSTRAP TOPIC GROUP N   joins GROUP, prints N records as JSON lines, commits
"""
import json
import sys

from confluent_kafka import Consumer, Producer


def produce(bootstrap, topic, count):
    p = Producer({"bootstrap.servers": bootstrap, "partitioner": "murmur2_random", "enable.idempotence": True})
    failures = []
    for i in range(count):
        p.produce(topic, key=f"k{i}", value=f"py-{i}", on_delivery=lambda err, msg: err and failures.append(str(err)))
        p.poll(0)
    p.flush(30)
    if failures:
        sys.exit(f"delivery failed: {failures[:3]}")


def consume(bootstrap, topic, group, count):
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "session.timeout.ms": 6000})
    c.subscribe([topic])
    seen = 0
    idle = 0
    while seen < count and idle < 60:
        msg = c.poll(0.5)
        if msg is None:
            idle += 1
            continue
        if msg.error():
            sys.exit(f"consume error: {msg.error()}")
        idle = 0
        seen += 1
        print(json.dumps({"partition": msg.partition(), "offset": msg.offset(),
                          "key": msg.key().decode() if msg.key() else None, "value": msg.value().decode()}))
        c.commit(msg, asynchronous=False)
    c.close()
    if seen < count:
        sys.exit(f"only {seen} of {count} records arrived")


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "produce":
        produce(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif cmd == "consume":
        consume(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        sys.exit(__doc__)
