import ExportCore
import Foundation
import HTTP
import Log
import Model
import Pipeline
import Runtime

/// Settings of the exporter beyond the shared daemon settings.
public struct ExporterSettings: Sendable, ConsumerDaemonSettings {
    public var topics = PipelineTopics()
    public var adminToken: String?
    public var instanceID = "exporter"
    public var groupID = "cdp-exporter"
    public var sessionTimeoutMs = 10_000
    /// Retry backoff: first wait and longest wait.
    public var retry = RetryPolicy()
    /// Items one lane (job × partition) may hold before intake waits for it.
    public var laneQueueLimit = 100_000
    /// Timeout of one webhook request.
    public var httpTimeoutSeconds = 30.0
    /// What jobs may reach (`CDP_EXPORT_FILE_ROOT`, `CDP_EXPORT_ALLOWED_HOSTS`).
    public var destinations = DestinationPolicy()
    /// An idle lane records its position after this long, so a restart replays little.
    public var checkpointIdleMs: Int64 = 2000
    /// How long a batch may wait for the profile records its enters were computed from
    /// (membership records can overtake them: two topics); then it is sent with what is there.
    public var profileWaitMs: Int64 = 1000
    /// Local snapshots (`CDP_DATA_DIR`); nil: rebuild from the log only.
    public var dataDirectory: String?
    public var snapshotIntervalMs: Int64 = 30_000
    public init() {}
}

/// What this instance holds for one source partition (of `cdp.memberships` and `cdp.profiles`).
struct PartitionState {
    /// `<aid>/<profile>` → identities and fields as last published.
    var profiles: [String: ProfileSnapshot] = [:]
    /// `<aid>/<profile>` → current audience ids.
    var memberships: [String: Set<String>] = [:]
    /// Next offset to read of each topic.
    var membershipsNext: Int64 = 0
    var profilesNext: Int64 = 0
    /// The end of each topic when the partition was assigned; caught up once reached.
    var membershipsEnd: Int64?
    var profilesEnd: Int64?
    /// Restored from a snapshot (reading starts at its offsets, not the beginning).
    var restored = false

    var caughtUp: Bool {
        guard let m = membershipsEnd, let p = profilesEnd else { return false }
        return membershipsNext >= m && profilesNext >= p
    }
}

/// The exporter: delivers audience changes to webhooks and files. Each job runs one lane per
/// source partition this instance owns; each lane delivers its items in order, one batch at a
/// time, and records its position in `cdp.exports`, so a restart resumes exactly after what
/// was acknowledged and redelivers the rest with the same idempotency keys.
public final class ExporterApp: Sendable {
    public let settings: ExporterSettings
    public let view: ConfigView
    let client: any LogClient
    let producer: any LogProducer
    let logger: Logger
    let metrics: MetricsRegistry
    let auth: Authenticator
    let clock: @Sendable () -> Int64
    let partitions = Locked<[Int32: PartitionState]>([:])
    let exports = Locked(ExportsState())
    let exportsCaughtUp = AtomicFlag()
    let lanes = Locked<[ExportsState.LaneKey: Lane]>([:])
    let monitors = Locked<[String: JobMonitor]>([:])
    let httpClients = Locked<[String: HTTPClient]>([:])
    /// Job documents (`<aid>/<id>@<version>`) already reported as not parsing.
    let invalidJobsReported = Locked<Set<String>>([])
    /// Per job, the last alert on its way: each alert is sent after the one before it, so a
    /// channel never shows "recovered" before the "is failing" it answers.
    let alertChains = Locked<[String: Task<Void, Never>]>([:])
    let everAssigned = AtomicFlag()
    let deliveredCounter: Counter
    let failedCounter: Counter
    let deadCounter: Counter
    let queuedGauge: Gauge
    let snapshots: SnapshotStore
    /// `exporter_consumer_lag_records` per assigned partition.
    let lag: ConsumerLagMetrics

    public init(client: any LogClient, settings: ExporterSettings, logger: Logger, metrics: MetricsRegistry,
                clock: @escaping @Sendable () -> Int64 = { Timestamp.nowMs() }) throws {
        self.client = client
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        self.clock = clock
        view = ConfigView(client: client, topics: settings.topics, logger: logger.with(["component": "config"]), metrics: metrics,
                          clientID: "cdp-exporter-config-\(settings.instanceID)")
        producer = try client.makeProducer(ProducerOptions(clientID: "cdp-exporter-\(settings.instanceID)", lingerMs: 1))
        auth = Authenticator(adminToken: settings.adminToken, view: view)
        deliveredCounter = metrics.counter("exporter_events_delivered_total", help: "Events acknowledged by destinations")
        failedCounter = metrics.counter("exporter_attempts_failed_total", help: "Delivery attempts that failed (and were retried or dead-lettered)")
        deadCounter = metrics.counter("exporter_batches_dead_lettered_total", help: "Batches moved to a job's dead-letter list")
        queuedGauge = metrics.gauge("exporter_queued_events", help: "Events waiting in lanes")
        lag = ConsumerLagMetrics(metrics: metrics, daemon: "exporter")
        snapshots = SnapshotStore(directory: settings.dataDirectory, daemon: "exporter", logger: logger.with(["component": "snapshots"]), metrics: metrics)
    }

    public var readiness: Readiness {
        if !view.isCaughtUp { return .notReady("configuration view is catching up") }
        if !exportsCaughtUp.load() { return .notReady("reading \(settings.topics.exports)") }
        if !everAssigned.load() { return .notReady("waiting for partitions of \(settings.topics.memberships)") }
        let behind = partitions.withLock { $0.filter { !$0.value.caughtUp }.keys.sorted() }
        if let p = behind.first { return .notReady("rebuilding partition \(p) of \(settings.topics.memberships) and \(settings.topics.profiles)") }
        return .ready
    }

    public var services: [any Service] {
        [ProducerService(producer), view, ClosureService(name: "exporter") { [self] in
            defer { stopAllLanes() }
            try await consume()
        }]
    }

    /// Every job of every account, parsed (documents that no longer parse are skipped, logged once).
    func jobs() -> [ExportJob] {
        view.read { $0.documents(kind: "job") }.compactMap(parsedJob)
    }

    func job(account: String, id: String) -> ExportJob? {
        view.read { $0.document(ConfigKey(account: account, kind: "job", id: id)) }.flatMap(parsedJob)
    }

    /// A job document as a job; one that does not parse (written onto cdp.config past the
    /// collector's checks) does not run, and says why once per version.
    func parsedJob(_ doc: ConfigDocument) -> ExportJob? {
        do throws(JobError) {
            return try ExportJob.parse(doc.body, id: doc.key.id, account: doc.key.account, policy: settings.destinations)
        } catch {
            if invalidJobsReported.withLock({ $0.insert("\(doc.key.account)/\(doc.key.id)@\(doc.version)").inserted }) {
                logger.error("export job document is invalid; the job does not run", ["job": "\(doc.key.account)/\(doc.key.id)", "version": String(doc.version), "error": error.message])
            }
            return nil
        }
    }

    /// Audience id → slug for an account (built-ins have their slug as id).
    func slugs(account: String) -> [String: String] {
        var out: [String: String] = [:]
        for d in view.read({ $0.documents(account: account, kind: "segment") }) {
            if let s = d.body["slug"]?.stringValue { out[d.key.id] = s }
        }
        return out
    }

    func monitor(account: String, job: String) -> JobMonitor {
        monitors.withLock { m in
            if let existing = m["\(account)/\(job)"] { return existing }
            let created = JobMonitor(job: "\(account)/\(job)", metrics: metrics)
            m["\(account)/\(job)"] = created
            return created
        }
    }

    /// Writes records to `cdp.exports`, retrying while the broker is unavailable (a lane's
    /// position must not be lost); gives up after `attempts`.
    func record(_ records: [ExportsRecord], attempts: Int = 20) async -> Bool {
        let out = records.map { ProducerRecord(topic: settings.topics.exports, key: Array($0.key.utf8), value: $0.json.serializedBytes()) }
        for attempt in 0..<attempts {
            let results = await producer.send(out)
            if !results.contains(where: { if case .failure = $0 { true } else { false } }) {
                exports.withLock { s in for r in records { s.apply(r) } }
                return true
            }
            if Task.isCancelled { break }
            try? await Task.sleep(for: .milliseconds(min(5000, 200 << min(attempt, 5))))
        }
        logger.error("could not record to \(settings.topics.exports); a restart may redeliver", ["records": String(records.count)])
        return false
    }

    func finishAllLanes(timeoutMs: Int) async {
        let all = lanes.withLock { l -> [Lane] in
            defer { l = [:] }
            return Array(l.values)
        }
        for lane in all { lane.stop() }
        for lane in all { await lane.finish(timeoutMs: timeoutMs) }
    }

    func stopAllLanes() {
        let all = lanes.withLock { l -> [Lane] in
            defer { l = [:] }
            return Array(l.values)
        }
        for lane in all { lane.stop() }
    }
}

extension ExporterApp: DaemonApp {}
