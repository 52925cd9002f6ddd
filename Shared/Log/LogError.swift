/// Errors from the log (Kafka or in-memory). Each carries whether retrying can help.
public enum LogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The producer's bounded in-flight queue is full: apply back-pressure and retry later.
    case queueFull(limit: Int)
    /// The broker could not be reached or did not answer in time.
    case timedOut(String)
    /// A record was rejected or failed delivery (`code` is the broker/client error name).
    case delivery(code: String, message: String, retriable: Bool)
    /// A request was refused by the broker or the client (bad config, unknown topic, ...).
    case request(code: String, message: String)
    /// The client is in a state it cannot leave (fatal idempotence error, closed handle).
    case fatal(String)
    /// Invalid configuration given to the client.
    case configuration(String)
    /// The client was closed.
    case closed

    public var isRetriable: Bool {
        switch self {
        case .queueFull, .timedOut: true
        case .delivery(_, _, let retriable): retriable
        case .request, .fatal, .configuration, .closed: false
        }
    }

    public var description: String {
        switch self {
        case .queueFull(let limit): "producer queue full (\(limit) records in flight)"
        case .timedOut(let what): "timed out: \(what)"
        case .delivery(let code, let message, _): "delivery failed (\(code)): \(message)"
        case .request(let code, let message): "request failed (\(code)): \(message)"
        case .fatal(let message): "fatal client error: \(message)"
        case .configuration(let message): "invalid client configuration: \(message)"
        case .closed: "client closed"
        }
    }
}
