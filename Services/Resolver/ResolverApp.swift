import Foundation
import IdentityCore
import HTTP
import Log
import Model
import Pipeline
import QL
import Runtime

/// Settings of the resolver beyond the shared daemon settings.
public struct ResolverSettings: Sendable, ConsumerDaemonSettings {
    public var topics = PipelineTopics()
    public var adminToken: String?
    public var instanceID = "resolver"
    public var groupID = "cdp-resolver"
    public var sessionTimeoutMs = 10_000
    /// Local snapshots (`CDP_DATA_DIR`); nil: rebuild from the log only.
    public var dataDirectory: String?
    public var snapshotIntervalMs: Int64 = 30_000
    /// Threads that resolve a batch's accounts in parallel (`CDP_RESOLVER_THREADS`; default: the
    /// CPUs the process may use, a container's CPU limit included). Each account is resolved by
    /// one thread, in log order.
    public var threads = min(64, CPUBudget.available())
    /// How profiles are held (`CDP_RESOLVER_PROFILE_STORAGE`): `compact` (encoded, about 40% of
    /// the memory) or `decoded` (faster per event).
    public var profileStorage = ProfileStore.Storage.compact
    public init() {}
}

/// The resolver: consumes cdp.events (rebuilding each assigned partition from its beginning,
/// producing only past the committed offset), resolves identities, publishes profiles.
public final class ResolverApp: Sendable {
    public let settings: ResolverSettings
    public let view: ConfigView
    let client: any LogClient
    let producer: any LogProducer
    let logger: Logger
    let metrics: MetricsRegistry
    let auth: Authenticator
    let memberships: MembershipView
    let state: ResolverState
    let schemas = Locked<[String: (version: Int64, schema: AccountSchema)]>([:])
    let progress: RebuildProgress
    /// Set once a batch's outputs could not be published: offsets stop being committed.
    let publishFailed = AtomicFlag()
    let eventsApplied: Counter
    let profilesPublished: Counter
    let deadLettered: Counter
    /// Records the log refused for good (sent to cdp.deadletter instead).
    let unpublishable: Counter
    let snapshots: SnapshotStore
    /// `resolver_consumer_lag_records` per assigned partition.
    let lag: ConsumerLagMetrics


    public init(client: any LogClient, settings: ResolverSettings, logger: Logger, metrics: MetricsRegistry) throws {
        self.client = client
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        progress = RebuildProgress(rebuildSeconds: metrics.gauge("resolver_rebuild_seconds", help: "Seconds from the last partition assignment until the state was rebuilt up to the committed offsets"))
        // More shards than threads, so a batch's work can be shared out evenly.
        state = ResolverState(shards: settings.threads == 1 ? 1 : settings.threads * 8)
        view = ConfigView(client: client, topics: settings.topics, logger: logger.with(["component": "config"]), metrics: metrics,
                          clientID: "cdp-resolver-config-\(settings.instanceID)")
        producer = try client.makeProducer(ProducerOptions(clientID: "cdp-resolver-\(settings.instanceID)", maxInFlight: 200_000, lingerMs: 5))
        auth = Authenticator(adminToken: settings.adminToken, view: view)
        memberships = MembershipView(client: client, topics: settings.topics, logger: logger.with(["component": "memberships"]),
                                     clientID: "cdp-resolver-memberships-\(settings.instanceID)")
        eventsApplied = metrics.counter("resolver_events_total", help: "Events applied to identity graphs")
        profilesPublished = metrics.counter("resolver_profiles_published_total", help: "Profile records written to cdp.profiles")
        deadLettered = metrics.counter("resolver_deadletter_total", help: "Events sent to cdp.deadletter")
        unpublishable = metrics.counter("resolver_unpublishable_total", help: "Profile records the log refused for good (too large), sent to cdp.deadletter instead")
        lag = ConsumerLagMetrics(metrics: metrics, daemon: "resolver")
        snapshots = SnapshotStore(directory: settings.dataDirectory, daemon: "resolver", logger: logger.with(["component": "snapshots"]), metrics: metrics)
    }

    /// Ready when the configuration is current and every assigned partition has been replayed up
    /// to its committed offset.
    public var readiness: Readiness {
        if !view.isCaughtUp { return .notReady("configuration view is catching up") }
        return progress.readiness(topic: settings.topics.events)
    }

    public var services: [any Service] {
        return [
            ProducerService(producer),
            view,
            memberships,
            ClosureService(name: "resolver") { [self] in try await consume() },
        ]
    }

    /// The metrics in the Prometheus text format (tests, diagnostics).
    public var metricsText: String { metrics.render() }

    /// The schema of an account (`AccountSchema.inEffect`: its current `schema` document, else
    /// the default web schema; an invalid one is reported and its newest valid version used).
    func schema(for account: String) -> AccountSchema {
        let doc = view.read { $0.document(ConfigKey(account: account, kind: "schema", id: "current")) }
        let version = doc?.version ?? 0
        // Parsed once per schema version, not once per batch.
        if let cached = schemas.withLock({ $0[account] }), cached.version == version { return cached.schema }
        let (schema, problem) = AccountSchema.inEffect(current: doc, history: doc == nil ? [] : view.read { $0.documents(account: account, kind: "schemaversion") })
        if let problem { logger.error(problem) }
        schemas.withLock { $0[account] = (version, schema) }
        return schema
    }
}

extension ResolverApp: DaemonApp {}
