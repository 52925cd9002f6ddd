import Log
import Pipeline
import Runtime
import Testing

/// `<daemon>_consumer_lag_records`: set from the consumer's lag, at most once per interval, and
/// dropped for partitions no longer assigned.
struct ConsumerLagMetricsTests {
    @Test func gaugesFollowTheLag_throttled_andUnassignedPartitionsDisappear() async throws {
        let log = InMemoryLog(defaultPartitions: 2)
        let producer = try log.makeProducer(ProducerOptions(clientID: "t"))
        _ = await producer.send((0..<3).map { ProducerRecord(topic: "t", key: nil, value: "v\($0)", partition: 0) })
        let consumer = try log.makeConsumer(ConsumerOptions(groupID: nil))
        try consumer.assign([TopicPartition("t", 0): Offset.beginning, TopicPartition("t", 1): Offset.beginning])
        let metrics = MetricsRegistry()
        let lag = ConsumerLagMetrics(metrics: metrics, daemon: "test")
        let start = ContinuousClock.now
        lag.update(from: consumer, now: start)
        #expect(metrics.render().contains(#"test_consumer_lag_records{partition="0",topic="t"} 3"#))
        #expect(metrics.render().contains(#"test_consumer_lag_records{partition="1",topic="t"} 0"#))
        _ = try await consumer.poll(max: 2, timeoutMs: 100)
        lag.update(from: consumer, now: start + .milliseconds(500)) // within the interval: unchanged
        #expect(metrics.render().contains(#"test_consumer_lag_records{partition="0",topic="t"} 3"#))
        lag.update(from: consumer, now: start + .seconds(1))
        #expect(metrics.render().contains(#"test_consumer_lag_records{partition="0",topic="t"} 1"#))
        try consumer.assign([TopicPartition("t", 1): Offset.beginning])
        lag.update(from: consumer, now: start + .seconds(2))
        #expect(!metrics.render().contains(#"partition="0""#))
        #expect(metrics.render().contains(#"test_consumer_lag_records{partition="1",topic="t"} 0"#))
    }
}
