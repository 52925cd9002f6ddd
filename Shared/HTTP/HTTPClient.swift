import Foundation
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
/// and the CLI. Responses are bounded in size; nothing is cached and no cookies are kept.
public final class HTTPClient: Sendable {
    private let session: URLSession
    public let maxResponseBytes: Int

    public init(timeoutSeconds: Double = 30, maxResponseBytes: Int = 16 * 1024 * 1024) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds * 2
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.httpMaximumConnectionsPerHost = 16
        session = URLSession(configuration: configuration)
        self.maxResponseBytes = maxResponseBytes
    }

    public func send(_ method: String, _ url: String, headers: [(String, String)] = [], body: [UInt8]? = nil) async throws -> HTTPClientResponse {
        guard let target = URL(string: url), let scheme = target.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw HTTPClientError.invalidURL(url)
        }
        var request = URLRequest(url: target)
        request.httpMethod = method
        for (name, value) in headers { request.addValue(value, forHTTPHeaderField: name) }
        if let body { request.httpBody = Data(body) }
        let limit = maxResponseBytes
        return try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(throwing: HTTPClientError.transport(error.localizedDescription))
                    return
                }
                guard let http = response as? HTTPURLResponse else {
                    continuation.resume(throwing: HTTPClientError.transport("no HTTP response"))
                    return
                }
                let bytes = data.map { [UInt8]($0) } ?? []
                if bytes.count > limit {
                    continuation.resume(throwing: HTTPClientError.responseTooLarge(limit))
                    return
                }
                var fields: [String: String] = [:]
                for (k, v) in http.allHeaderFields {
                    if let k = k as? String, let v = v as? String { fields[k] = v }
                }
                continuation.resume(returning: HTTPClientResponse(status: http.statusCode, headers: fields, body: bytes))
            }
            task.resume()
        }
    }
}
