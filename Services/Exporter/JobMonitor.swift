import Runtime

/// What this instance has seen a job do: counts, the last error, whether it is failing, and a
/// bounded log of recent events (batches sent, retries, errors) for `GET /api/work/{id}/logs`.
final class JobMonitor: Sendable {
    struct Entry: Sendable {
        var atMs: Int64
        var level: String
        var message: String
        var batchID: String?
        var partition: Int32?
    }

    struct State: Sendable {
        var batches: Int64 = 0
        var events: Int64 = 0
        var failedAttempts: Int64 = 0
        var deadLettered: Int64 = 0
        var lastError: String?
        var lastErrorMs: Int64?
        var lastSuccessMs: Int64?
        /// Lanes currently retrying a batch.
        var retrying: Set<Int32> = []
        /// An alert was sent and recovery not yet announced.
        var alerting = false
        var entries: [Entry] = []
    }

    static let maxEntries = 500
    let state = Locked(State())
    /// Prometheus series labelled with the job (`<aid>/<id>`).
    let delivered: Counter
    let retries: Counter
    let failures: Counter
    let batchSeconds: Histogram
    let queued: Gauge

    init(job: String, metrics: MetricsRegistry) {
        let labels = ["job": job]
        delivered = metrics.counter("exporter_job_events_delivered_total", help: "Events acknowledged, per job", labels: labels)
        retries = metrics.counter("exporter_job_retries_total", help: "Delivery attempts retried, per job", labels: labels)
        failures = metrics.counter("exporter_job_batches_failed_total", help: "Batches dead-lettered, per job", labels: labels)
        batchSeconds = metrics.histogram("exporter_job_batch_seconds", help: "Time from taking a batch to its acknowledgement, retries included, per job", labels: labels)
        queued = metrics.gauge("exporter_job_queued_events", help: "Events waiting, per job", labels: labels)
    }

    func log(_ level: String, _ message: String, atMs: Int64, batchID: String? = nil, partition: Int32? = nil) {
        state.withLock { s in
            s.entries.append(Entry(atMs: atMs, level: level, message: message, batchID: batchID, partition: partition))
            if s.entries.count > Self.maxEntries { s.entries.removeFirst(s.entries.count - Self.maxEntries) }
        }
    }

    /// A batch was acknowledged; returns whether this ends an alerting period (send a recovery).
    func delivered(events: Int, batchID: String, partition: Int32, atMs: Int64) -> Bool {
        delivered.inc(UInt64(events))
        log("info", "batch of \(events) event(s) delivered", atMs: atMs, batchID: batchID, partition: partition)
        return state.withLock { s in
            s.batches += 1
            s.events += Int64(events)
            s.lastSuccessMs = atMs
            s.retrying.remove(partition)
            defer { s.alerting = false }
            return s.alerting
        }
    }

    func failed(_ reason: String, retryInMs: Int64, batchID: String, partition: Int32, atMs: Int64) {
        retries.inc()
        log("warning", "attempt failed (\(reason)); retrying in \(retryInMs) ms", atMs: atMs, batchID: batchID, partition: partition)
        state.withLock { s in
            s.failedAttempts += 1
            s.lastError = reason
            s.lastErrorMs = atMs
            s.retrying.insert(partition)
        }
    }

    /// A batch went to the dead-letter list; returns whether to send an alert (not already alerting).
    func deadLettered(_ reason: String, events: Int, batchID: String, partition: Int32, atMs: Int64) -> Bool {
        failures.inc()
        log("error", "batch of \(events) event(s) dead-lettered: \(reason)", atMs: atMs, batchID: batchID, partition: partition)
        return state.withLock { s in
            s.failedAttempts += 1
            s.deadLettered += 1
            s.lastError = reason
            s.lastErrorMs = atMs
            s.retrying.remove(partition)
            defer { s.alerting = true }
            return !s.alerting
        }
    }

    var snapshot: State { state.withLock { $0 } }
}
