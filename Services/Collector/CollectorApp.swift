import ExportCore
import HTTP
import Pipeline
import Log
import Model
import Runtime

/// Settings of the collector beyond the shared daemon settings.
public struct CollectorSettings: Sendable {
    public var topics = PipelineTopics()
    public var adminToken: String?
    public var limits = CollectLimits()
    /// Answer 503 once every broker has been unreachable for this long.
    public var unavailableAfterMs: Int64 = 5000
    public var instanceID = "collector"
    /// What export jobs may reach, as the exporter has it (`CDP_EXPORT_FILE_ROOT`,
    /// `CDP_EXPORT_ALLOWED_HOSTS`): checked when a job is written, so the answer is a precise 400.
    public var destinations = DestinationPolicy()

    public init() {}
}

/// The collector: HTTP routes over a configuration view and a producer. `services` run it; the
/// daemon's main adds the HTTP server around `router`.
public final class CollectorApp: Sendable {
    public let settings: CollectorSettings
    public let view: ConfigView
    public let producer: any LogProducer
    public let writer: ConfigWriter
    public let auth: Authenticator
    public let logger: Logger
    public let metrics: MetricsRegistry
    let collectMetrics: CollectMetrics

    public init(client: any LogClient, settings: CollectorSettings, logger: Logger, metrics: MetricsRegistry) throws {
        self.settings = settings
        self.logger = logger
        self.metrics = metrics
        view = ConfigView(client: client, topics: settings.topics, logger: logger.with(["component": "config"]), metrics: metrics)
        producer = try client.makeProducer(ProducerOptions(clientID: "cdp-collector-\(settings.instanceID)", maxInFlight: 200_000,
                                                           lingerMs: 2, deliveryTimeoutMs: 15_000))
        writer = ConfigWriter(producer: producer, view: view, topics: settings.topics)
        auth = Authenticator(adminToken: settings.adminToken, view: view)
        collectMetrics = CollectMetrics(metrics, producer: producer)
    }

    /// Every route of the collector (built on each call; the server keeps one copy).
    public var router: Router {
        var router = Router()
        mountCollect(&router)
        mountAccounts(&router)
        mountAPIKeys(&router)
        mountSegment(&router)
        mountBulk(&router)
        mountSchema(&router)
        mountSegments(&router)
        mountWork(&router)
        let view = self.view
        let producer = self.producer
        let unavailableAfter = settings.unavailableAfterMs
        router.mountOperations(service: "cdp-collector", metrics: metrics) {
            if !view.isCaughtUp { return .notReady("configuration view is catching up with cdp.config") }
            if producer.unreachableForMs > unavailableAfter { return .notReady("broker unreachable for \(producer.unreachableForMs) ms") }
            return .ready
        }
        return router
    }

    /// The producer (closed last), then the configuration view.
    public var services: [any Service] {
        return [
            ProducerService(producer),
            view,
        ]
    }

    // MARK: - Shared handler helpers

    /// Authenticates for `role`, makes sure the account exists (the operator's `default` account
    /// is created on first use), and runs `body`.
    func authorized(_ request: HTTPRequest, _ role: Role, _ body: (Principal) async -> HTTPResponse) async -> HTTPResponse {
        let principal: Principal
        switch auth.authenticate(request, role: role) {
        case .success(let p): principal = p
        case .failure(let f): return f.response
        }
        if view.read({ $0.account(principal.account) }) == nil {
            guard principal.isOperator, principal.account == Authenticator.defaultAccount else {
                return .error(404, "account '\(principal.account)' does not exist")
            }
            let key = ConfigKey(account: principal.account, kind: ConfigKind.account, id: principal.account)
            do throws(ConfigWriteError) {
                _ = try await writer.put(key, body: ["name": "Default"], expectedVersion: 0, by: "admin", nowMs: Timestamp.nowMs())
            } catch {
                if case .conflict = error {} else { return Self.writeFailure(error) }
            }
        }
        return await body(principal)
    }

    static func writeFailure(_ error: ConfigWriteError) -> HTTPResponse {
        switch error {
        case .conflict: .error(409, error.description)
        case .notFound: .error(404, error.description)
        case .unavailable: .error(503, error.description, headers: [("Retry-After", "2")])
        }
    }

    /// The request body as a JSON object, or the 400 to answer.
    static func jsonObject(_ request: HTTPRequest) -> Result<[String: JSONValue], HTTPResponse> {
        do throws(JSONParseError) {
            guard case .object(let o) = try JSONParser().parse(request.body) else {
                return .failure(.error(400, "request body must be a JSON object"))
            }
            return .success(o)
        } catch {
            return .failure(.error(400, "malformed JSON: \(error.message) at line \(error.line), column \(error.column)"))
        }
    }

    /// `If-Match: <version>` (quotes allowed); nil when absent, failure when malformed.
    static func ifMatch(_ request: HTTPRequest) -> Result<Int64?, HTTPResponse> {
        guard let raw = request.headers["if-match"] else { return .success(nil) }
        let text = raw.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "\"", with: "").replacingOccurrences(of: "W/", with: "")
        guard let v = Int64(text), v >= 0 else { return .failure(.error(400, "If-Match must be a document version number")) }
        return .success(v)
    }
}

/// Collector metrics.
final class CollectMetrics: Sendable {
    let registry: MetricsRegistry
    let streams = Locked<Set<String>>([])
    let brokerErrors: Counter
    let queueDepth: Gauge

    init(_ registry: MetricsRegistry, producer: any LogProducer) {
        self.registry = registry
        brokerErrors = registry.counter("collector_broker_errors_total", help: "Events the broker did not acknowledge")
        queueDepth = registry.gauge("collector_producer_queue_depth", help: "Records in flight to the broker")
    }

    /// Counts events by stream (at most 200 distinct stream labels; the rest count as "other").
    func events(_ stream: String, accepted: Int, rejected: Int) {
        let label = streams.withLock { s -> String in
            if s.contains(stream) { return stream }
            if s.count < 200 { s.insert(stream); return stream }
            return "other"
        }
        if accepted > 0 { registry.counter("collector_events_total", help: "Events by stream and result", labels: ["stream": label, "result": "accepted"]).inc(UInt64(accepted)) }
        if rejected > 0 { registry.counter("collector_events_total", help: "Events by stream and result", labels: ["stream": label, "result": "rejected"]).inc(UInt64(rejected)) }
    }
}

extension CollectorApp: DaemonApp {}
