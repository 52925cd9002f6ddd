import Runtime

/// What `/readyz` reports: ready, or not yet with the reason.
public enum Readiness: Sendable, Equatable {
    case ready
    case notReady(String)
}

extension Router {
    /// Mounts `GET /healthz` (alive), `GET /readyz` (from `readiness`) and `GET /metrics`
    /// (Prometheus text format) — the same three on every daemon.
    public mutating func mountOperations(service: String, metrics: MetricsRegistry,
                                         readiness: @escaping @Sendable () -> Readiness) {
        get("/healthz") { _ in
            .json(200, message: "ok", data: ["service": .string(service)])
        }
        get("/readyz") { _ in
            switch readiness() {
            case .ready:
                return .json(200, message: "ready", data: ["service": .string(service)])
            case .notReady(let reason):
                return .json(503, message: "not ready: \(reason)", data: ["service": .string(service)])
            }
        }
        get("/metrics") { _ in
            .text(200, metrics.render(), contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }
}
