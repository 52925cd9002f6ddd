import Foundation
import Runtime
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A response received by `HTTPClient`.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]

    /// A header value (names compared without case).
    public func header(_ name: String) -> String? {
        headers.first { $0.key.lowercased() == name.lowercased() }?.value
    }
}

public enum HTTPClientError: Error, CustomStringConvertible, Sendable {
    case invalidURL(String)
    case transport(String)
    case responseTooLarge(Int)

    public var description: String {
        switch self {
        case .invalidURL(let url): "invalid URL: \(url)"
        case .transport(let message): "request failed: \(message)"
        case .responseTooLarge(let limit): "response larger than \(limit) bytes"
        }
    }
}

/// A small client over URLSession (FoundationNetworking) for outgoing calls such as webhooks
/// and the CLI. Responses are bounded in size while they arrive (a body past the limit cancels
/// the request); nothing is cached and no cookies are kept.
public final class HTTPClient: Sendable {
    private let session: URLSession
    private let bodies: BoundedBodies
    /// Where the session's callbacks run (an OperationQueue holds it unowned).
    private let callbackQueue = DispatchQueue(label: "cdp.http.client")
    public let maxResponseBytes: Int

    public init(timeoutSeconds: Double = 30, maxResponseBytes: Int = 16 * 1024 * 1024) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds * 2
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.httpMaximumConnectionsPerHost = 16
        bodies = BoundedBodies(limit: maxResponseBytes)
        // Callbacks on a serial queue of their own (Dispatch's overcommitting pool): on the shared
        // pool a busy process delivered them late, and the body kept arriving past the limit.
        let callbacks = OperationQueue()
        callbacks.maxConcurrentOperationCount = 1
        callbacks.underlyingQueue = callbackQueue
        session = URLSession(configuration: configuration, delegate: bodies, delegateQueue: callbacks)
        self.maxResponseBytes = maxResponseBytes
    }

    deinit {
        // A session keeps its delegate until invalidated.
        session.finishTasksAndInvalidate()
    }

    public func send(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> HTTPClientResponse {
        guard let target = URL(string: url), let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw HTTPClientError.invalidURL(url)
        }
        var request = URLRequest(url: target)
        request.httpMethod = method
        for (name, value) in headers { request.addValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body) }
        let task = session.dataTask(with: request)
        return try await withCheckedThrowingContinuation { continuation in
            bodies.start(task, continuation)
        }
    }
}

/// Collects each request's body as it arrives and cancels a request whose body passes the
/// limit. (A data task with a completion handler buffers the whole body first, however large:
/// a destination answering with an endless body filled memory until the request timed out.)
final class BoundedBodies: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Pending {
        var data = Data()
        var continuation: CheckedContinuation<HTTPClientResponse, Error>
        var tooLarge = false
    }

    let limit: Int
    private let pending = Locked<[Int: Pending]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    func start(_ task: URLSessionDataTask, _ continuation: CheckedContinuation<HTTPClientResponse, Error>) {
        pending.withLock { $0[task.taskIdentifier] = Pending(continuation: continuation) }
        task.resume()
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let limit = self.limit
        let over = pending.withLock { all -> Bool in
            guard all[dataTask.taskIdentifier]?.tooLarge == false, let received = all[dataTask.taskIdentifier]?.data.count else { return false }
            if received + data.count > limit {
                all[dataTask.taskIdentifier]?.tooLarge = true
                all[dataTask.taskIdentifier]?.data = Data()
                return true
            }
            all[dataTask.taskIdentifier]?.data.append(data)
            return false
        }
        if over { dataTask.cancel() }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        guard let done = pending.withLock({ $0.removeValue(forKey: task.taskIdentifier) }) else { return }
        if done.tooLarge {
            done.continuation.resume(throwing: HTTPClientError.responseTooLarge(limit))
            return
        }
        if let error {
            done.continuation.resume(throwing: HTTPClientError.transport(error.localizedDescription))
            return
        }
        guard let http = task.response as? HTTPURLResponse else {
            done.continuation.resume(throwing: HTTPClientError.transport("no HTTP response"))
            return
        }
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { fields[k] = v }
        }
        done.continuation.resume(returning: HTTPClientResponse(status: http.statusCode, headers: fields, body: [UInt8](done.data)))
    }
}
