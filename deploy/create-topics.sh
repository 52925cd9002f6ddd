#!/usr/bin/env sh
# Creates the pipeline topics on a real Kafka cluster with Kafka's own tool (the dev broker
# creates them itself). Run it where kafka-topics.sh is available, e.g. inside the apache/kafka
# image:   BOOTSTRAP=kafka:29092 PARTITIONS=12 /deploy/create-topics.sh
# Same result from anywhere with librdkafka:   cdp topics create --partitions 12 --brokers HOST:PORT
set -eu
BOOTSTRAP=${BOOTSTRAP:-localhost:9092}
PREFIX=${CDP_TOPIC_PREFIX:-cdp.}
PARTITIONS=${PARTITIONS:-4}
REPLICATION=${REPLICATION:-1}
TOPICS=${KAFKA_TOPICS:-/opt/kafka/bin/kafka-topics.sh}
[ -x "$TOPICS" ] || TOPICS=kafka-topics.sh

create() { # name partitions [config...]
    name=$1; parts=$2; shift 2
    set -- "$@"
    configs=""
    for c in "$@"; do configs="$configs --config $c"; done
    # shellcheck disable=SC2086
    "$TOPICS" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists --topic "$name" \
        --partitions "$parts" --replication-factor "$REPLICATION" $configs
}

# cdp.config has one partition so every reader sees all configuration in one order.
create "${PREFIX}config" 1 cleanup.policy=compact
create "${PREFIX}events" "$PARTITIONS"
create "${PREFIX}profiles" "$PARTITIONS" cleanup.policy=compact
create "${PREFIX}memberships" "$PARTITIONS" cleanup.policy=compact
create "${PREFIX}exports" "$PARTITIONS"
create "${PREFIX}deadletter" "$PARTITIONS"
echo "pipeline topics ready on $BOOTSTRAP (prefix $PREFIX, $PARTITIONS partitions)"
