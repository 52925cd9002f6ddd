import Log
import Runtime

/// `<daemon>_consumer_lag_records{topic,partition}`: per assigned partition, the records the
/// daemon has not read yet (`LogConsumer.lag`: from the end the broker last reported, so no
/// request is made). Updated from the poll loop at most once per `interval`; the series of a
/// partition that is no longer assigned is dropped. The signal to scale a consumer group on.
public final class ConsumerLagMetrics: Sendable {
    private let metrics: MetricsRegistry
    private let name: String
    private let interval: Duration
    private struct State {
        var last: ContinuousClock.Instant?
        var reported: Set<TopicPartition> = []
    }
    private let state = Locked(State())

    public init(metrics: MetricsRegistry, daemon: String, interval: Duration = .seconds(1)) {
        self.metrics = metrics
        self.name = "\(daemon)_consumer_lag_records"
        self.interval = interval
    }

    /// Reads the consumer's lag and sets the gauges, unless the last update is under `interval` old.
    public func update(from consumer: any LogConsumer, now: ContinuousClock.Instant = .now) {
        let due = state.withLock { s -> Bool in
            if let last = s.last, now - last < interval { return false }
            s.last = now
            return true
        }
        guard due else { return }
        let lag = consumer.lag
        let gone = state.withLock { s -> Set<TopicPartition> in
            let gone = s.reported.subtracting(lag.keys)
            s.reported = Set(lag.keys)
            return gone
        }
        for tp in gone { metrics.remove(name, labels: Self.labels(tp)) }
        for (tp, records) in lag {
            metrics.gauge(name, help: "Records of an assigned partition not read yet (the partition's end as last reported by the broker, minus the read position)",
                          labels: Self.labels(tp)).set(Double(records))
        }
    }

    static func labels(_ tp: TopicPartition) -> [String: String] {
        ["topic": tp.topic, "partition": String(tp.partition)]
    }
}
