import Foundation
import HTTP
import Log
import Model
import Pipeline
import QL
import Runtime
import SegmentCore

/// Settings of the segmenter beyond the shared daemon settings.
public struct SegmenterSettings: Sendable, ConsumerDaemonSettings {
    public var topics = PipelineTopics()
    public var adminToken: String?
    public var instanceID = "segmenter"
    public var groupID = "cdp-segmenter"
    public var sessionTimeoutMs = 10_000
    /// Local snapshots (`CDP_DATA_DIR`); nil: rebuild from the log only.
    public var dataDirectory: String?
    public var snapshotIntervalMs: Int64 = 30_000
    public init() {}
}

/// Where an `AccountSegments` belongs: `cdp.profiles` is keyed, so partitioned, by profile, so an
/// account's profiles spread over partitions, and each partition's share is kept apart (revoked,
/// snapshotted and restored with its partition).
struct StateKey: Hashable, Comparable, Sendable {
    let account: String
    let partition: Int32

    static func < (a: StateKey, b: StateKey) -> Bool { (a.account, a.partition) < (b.account, b.partition) }
}

/// One account's audiences, profiles (as records) and memberships within one partition.
struct AccountSegments {
    var fingerprint = ""
    /// The configuration generation `fingerprint` was taken at (nothing to look at while the
    /// configuration has not changed: reading the account's documents took a fifth of the time
    /// per profile change).
    var configGeneration: UInt64?
    /// The audiences every profile was last evaluated with; when `fingerprint` moves past it,
    /// the whole account is re-evaluated (backfill).
    var evaluatedFingerprint = ""
    var audiences: AudienceSet?
    var profiles: [String: (version: Int64, fields: [String: QLValue])] = [:]
    var memberships = Memberships()
    var flips = FlipQueue()
    /// Profiles the resolver flagged unhealthy: in no audience.
    var unhealthy = Set<String>()
    /// Audience id → size over time, from published transitions.
    var history: [String: SizeHistory] = [:]

    mutating func recordHistory(_ transitions: [Transition]) {
        for t in transitions { history[t.audience, default: SizeHistory()].record(t.action, atMs: t.atMs) }
    }
}

/// The segmenter: keeps every audience's membership current from `cdp.profiles` and publishes
/// changes to `cdp.memberships` (key `<aid>/<profile>`): the profile's current audiences and
/// the enters/exits this record carries.
public final class SegmenterApp: Sendable {
    public let settings: SegmenterSettings
    public let view: ConfigView
    let client: any LogClient
    let producer: any LogProducer
    let logger: Logger
    let metrics: MetricsRegistry
    let auth: Authenticator
    /// The clock for relative dates (injected so tests can move time).
    let clock: @Sendable () -> Int64
    let states = Locked<[StateKey: AccountSegments]>([:])
    let progress: RebuildProgress
    let transitionsPublished: Counter
    /// What cdp.memberships says each profile belongs to, per partition (`<aid>/<profile>` →
    /// audience ids): read whenever a partition is assigned (another replica may have published
    /// for it until then), kept up to date with what this instance publishes, and compared with
    /// the rebuilt state once a partition has caught up.
    let published = Locked<[Int32: [String: Set<String>]]?>(nil)
    /// Assigned partitions whose published memberships are read before their records are
    /// applied; partitions not reconciled since assigned.
    let pendingPartitions = Locked<(readBack: Set<Int32>, reconcile: Set<Int32>)>(([], []))
    /// History read back from cdp.memberships per partition (`aid` → audience → history) when
    /// the partition is assigned; the history API adds what was published since.
    let publishedHistory = Locked<[Int32: [String: [String: SizeHistory]]]>([:])
    let snapshots: SnapshotStore
    /// `segmenter_consumer_lag_records` per assigned partition.
    let lag: ConsumerLagMetrics
    let profileRecords: Counter

    public init(client: any LogClient, settings: SegmenterSettings, logger: Logger, metrics: MetricsRegistry,
                clock: @escaping @Sendable () -> Int64 = { Timestamp.nowMs() }) throws {
        self.client = client
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        progress = RebuildProgress(rebuildSeconds: metrics.gauge("segmenter_rebuild_seconds", help: "Seconds from the last partition assignment until the state was rebuilt up to the committed offsets"))
        self.clock = clock
        view = ConfigView(client: client, topics: settings.topics, logger: logger.with(["component": "config"]), metrics: metrics,
                          clientID: "cdp-segmenter-config-\(settings.instanceID)")
        producer = try client.makeProducer(ProducerOptions(clientID: "cdp-segmenter-\(settings.instanceID)", lingerMs: 2))
        auth = Authenticator(adminToken: settings.adminToken, view: view)
        lag = ConsumerLagMetrics(metrics: metrics, daemon: "segmenter")
        snapshots = SnapshotStore(directory: settings.dataDirectory, daemon: "segmenter", logger: logger.with(["component": "snapshots"]), metrics: metrics)
        profileRecords = metrics.counter("segmenter_profile_records_total", help: "cdp.profiles records read (rebuild and live)")
        transitionsPublished = metrics.counter("segmenter_transitions_total", help: "Audience enters and exits published")
    }

    public var readiness: Readiness {
        if !view.isCaughtUp { return .notReady("configuration view is catching up") }
        return progress.readiness(topic: settings.topics.profiles)
    }

    public var services: [any Service] {
        [ProducerService(producer), view, ClosureService(name: "segmenter") { [self] in try await consume() }]
    }

    /// The account's audiences from its `segment` documents (recompiled when they change).
    func audiences(for account: String, _ state: inout AccountSegments) -> AudienceSet? {
        let generation = view.read { $0.generation }
        if generation == state.configGeneration { return state.audiences }
        let docs = view.read { $0.documents(account: account, kind: "segment") }
        let fingerprint = docs.map { "\($0.key.id)@\($0.version)" }.joined(separator: ",")
        state.configGeneration = generation
        if fingerprint == state.fingerprint, let a = state.audiences { return a }
        let defs = docs.compactMap { d -> AudienceSet.Definition? in
            guard let slug = d.body["slug"]?.stringValue, let f = d.body["filterql"]?.stringValue else { return nil }
            return AudienceSet.Definition(id: d.key.id, slug: slug, filterQL: f, apiAccessible: d.body["api_accessible"]?.boolValue ?? false)
        }
        do {
            state.audiences = try AudienceSet(defs)
        } catch {
            logger.error("audiences of \(account) do not compile; keeping the previous set", ["error": "\(error)"])
        }
        state.fingerprint = fingerprint
        return state.audiences
    }

    /// The membership record for a profile's transitions.
    func record(account: String, profile: String, version: Int64, current: Set<String>, transitions: [Transition]) -> ProducerRecord {
        ProducerRecord(topic: settings.topics.memberships, key: Array("\(account)/\(profile)".utf8),
                       value: MembershipRecord.value(account: account, profile: profile, version: version, current: current, transitions: transitions))
    }
}

extension SegmenterApp: DaemonApp {}
