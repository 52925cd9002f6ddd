import Log
import Runtime

/// Watches every partition's low watermark and warns when the mock cluster drops old records
/// (it keeps at most 5 MiB of batches per partition), so a user never loses data silently.
struct RetentionMonitor {
    let brokers: String
    let logger: Logger
    let metrics: MetricsRegistry
    var intervalMs = 2000

    func run() async {
        let log = KafkaLog(brokers: brokers, logger: logger)
        guard let admin = try? log.makeAdmin(), let consumer = try? log.makeConsumer(ConsumerOptions(groupID: nil, clientID: "cdp-devbroker-monitor")) else {
            logger.error("retention monitor could not start")
            return
        }
        var lows: [TopicPartition: Int64] = [:]
        while !Task.isCancelled {
            do {
                for topic in try await admin.listTopics() {
                    for p in 0..<topic.partitions {
                        let tp = TopicPartition(topic.name, Int32(p))
                        let marks = try await consumer.watermarks(tp)
                        let labels = ["topic": tp.topic, "partition": String(tp.partition)]
                        metrics.gauge("devbroker_high_watermark", help: "Next offset to be written, per partition", labels: labels).set(Double(marks.high))
                        metrics.gauge("devbroker_low_watermark", help: "Oldest offset still held, per partition", labels: labels).set(Double(marks.low))
                        if let previous = lows[tp], marks.low > previous {
                            metrics.counter("devbroker_records_dropped_total", help: "Records dropped by the mock's 5 MiB per-partition limit", labels: labels).inc(UInt64(marks.low - previous))
                            logger.warning("partition dropped old records: the dev broker keeps at most 5 MiB per partition", [
                                "partition": tp.description, "dropped": String(marks.low - previous),
                                "low_watermark": String(marks.low), "high_watermark": String(marks.high),
                            ])
                        }
                        lows[tp] = marks.low
                    }
                }
            } catch {
                logger.debug("retention check failed", ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(intervalMs))
        }
        await consumer.close()
    }
}
