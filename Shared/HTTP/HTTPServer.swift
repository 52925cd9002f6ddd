import Foundation
import Runtime
import Synchronization

/// Timeouts and bounds of the server, beyond the per-request `HTTPLimits`.
public struct HTTPServerOptions: Sendable {
    public var limits = HTTPLimits()
    /// Connections beyond this are answered 503 and closed at once.
    public var maxConnections = 512
    /// A keep-alive connection with no request for this long is closed.
    public var idleTimeoutMs = 60_000
    /// The whole request head must arrive within this (slow-loris protection) → 408.
    public var headerTimeoutMs = 10_000
    /// The whole body must arrive within this → 408.
    public var bodyTimeoutMs = 60_000
    /// A client that stops reading the response is dropped after this.
    public var writeTimeoutMs = 10_000
    /// On shutdown, requests in progress get this long to finish.
    public var drainTimeoutMs = 10_000

    public init() {}
}

/// A small HTTP/1.1 server on blocking sockets: one thread accepts, one thread serves each
/// connection (keep-alive, pipelining in order), handlers run as Swift tasks.
///
/// Bounded everywhere: header size (431), body size (413), connection count (503), read and idle
/// timeouts (408 or close), write timeout. Cancelling `run()` drains: the listener closes, idle
/// connections close, requests in progress finish with `Connection: close`.
public final class HTTPServer: Service {
    public let name: String
    public let router: Router
    public let options: HTTPServerOptions
    private let address: ListenAddress
    private let logger: Logger
    private let metrics: HTTPMetrics?

    private struct State {
        var listenFD: Int32 = -1
        var port = 0
        /// Open connections and whether each is busy with a request.
        var connections: [Int32: AtomicFlag] = [:]
    }
    private let state = Locked(State())
    private let draining = AtomicFlag()
    private let acceptorDone = DispatchSemaphore(value: 0)

    public init(name: String = "http", address: ListenAddress, router: Router, options: HTTPServerOptions = HTTPServerOptions(),
                logger: Logger, metrics: MetricsRegistry? = nil) {
        self.name = name
        self.address = address
        self.router = router
        self.options = options
        self.logger = logger
        self.metrics = metrics.map(HTTPMetrics.init)
    }

    /// The bound port (after `start()`).
    public var port: Int { state.withLock { $0.port } }

    /// Binds and starts accepting; returns the port. Safe to call before `run()`.
    @discardableResult
    public func start() throws -> Int {
        if let port = state.withLock({ $0.listenFD >= 0 ? $0.port : nil }) { return port }
        let fd = try Socket.listen(host: address.host, port: address.port)
        let port = Socket.localPort(fd)
        state.withLock {
            $0.listenFD = fd
            $0.port = port
        }
        let thread = Thread { [self] in acceptLoop(fd) }
        thread.name = "cdp.http.accept"
        thread.start()
        logger.info("http server listening", ["addr": "\(address.host):\(port)"])
        return port
    }

    public func run() async throws {
        try start()
        await waitForCancellation()
        await drain()
    }

    /// Stops accepting, closes idle connections and waits for busy ones (up to the drain timeout).
    public func drain() async {
        draining.store(true)
        let (fd, idle) = state.withLock { s -> (Int32, [Int32]) in
            let fd = s.listenFD
            s.listenFD = -1
            return (fd, s.connections.filter { !$0.value.load() }.map(\.key))
        }
        guard fd >= 0 else { return }
        Socket.shutdown(fd)
        Socket.close(fd)
        // An idle connection whose next request already arrived is left to be served (it will
        // answer with Connection: close); the others close now.
        for c in idle where !Socket.hasPendingInput(c) { Socket.shutdown(c) }
        let deadline = ContinuousClock.now + .milliseconds(options.drainTimeoutMs)
        while ContinuousClock.now < deadline {
            if state.withLock({ $0.connections.isEmpty }) { break }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let left = state.withLock { Array($0.connections.keys) }
        for c in left { Socket.shutdown(c) }
        if !left.isEmpty { logger.warning("closed connections still busy after the drain timeout", ["count": String(left.count)]) }
        logger.info("http server stopped", ["port": String(port)])
    }

    private func acceptLoop(_ listenFD: Int32) {
        defer { acceptorDone.signal() }
        while true {
            let client: Int32
            do {
                guard let fd = try Socket.accept(listenFD) else { return }
                client = fd
            } catch {
                if draining.load() { return }
                logger.error("accept failed", ["error": "\(error)"])
                usleep(10_000)
                continue
            }
            let busy = AtomicFlag()
            let admitted = state.withLock { s -> Bool in
                guard !draining.load(), s.connections.count < options.maxConnections else { return false }
                s.connections[client] = busy
                return true
            }
            guard admitted else {
                metrics?.rejectedConnections.inc()
                Socket.setSendTimeout(client, milliseconds: 1000)
                let response = HTTPResponse.error(503, "server busy: too many connections", headers: [("Retry-After", "1")])
                Socket.writeAll(client, Self.serialize(response, keepAlive: false, headOnly: false))
                Socket.close(client)
                continue
            }
            metrics?.connections.add(1)
            let thread = Thread { [self] in
                serve(client, busy: busy)
                state.withLock { _ = $0.connections.removeValue(forKey: client) }
                Socket.close(client)
                metrics?.connections.add(-1)
            }
            thread.stackSize = 512 * 1024
            thread.start()
        }
    }

    /// Marks the connection busy or idle; returns whether the server is draining. The drain reads
    /// the flag after setting `draining`, so a connection is either seen idle (and shut down) or
    /// sees `draining` here.
    private func setBusy(_ busy: AtomicFlag, _ value: Bool) -> Bool {
        busy.store(value)
        return draining.load()
    }

    /// Serves requests on one connection until it closes.
    private func serve(_ fd: Int32, busy: AtomicFlag) {
        Socket.setNoDelay(fd)
        Socket.setReceiveTimeout(fd, milliseconds: 1000)
        Socket.setSendTimeout(fd, milliseconds: options.writeTimeoutMs)
        var buffer = ConnectionBuffer()
        let limits = options.limits
        // The head parser does not judge body sizes: streaming routes have no total limit, so
        // the limit is applied below, once the route is known.
        var headLimits = limits
        headLimits.maxBodyBytes = Int.max
        while true {
            // 1. The head: idle wait for the first byte, then the header deadline.
            let idleStart = ContinuousClock.now
            var headStart: ContinuousClock.Instant? = buffer.isEmpty ? nil : idleStart
            var parsed: (HTTPRequestHead, Int)?
            while parsed == nil {
                switch HTTPHeadParser.parse(buffer.readable, limits: headLimits) {
                case .complete(let head, let length):
                    parsed = (head, length)
                    continue
                case .failed(let error):
                    respondAndClose(fd, .error(error.status, error.message))
                    return
                case .needMore:
                    break
                }
                if draining.load() && buffer.isEmpty && !Socket.hasPendingInput(fd) { return }
                switch buffer.fill(from: fd) {
                case .data:
                    if headStart == nil { headStart = ContinuousClock.now }
                    _ = setBusy(busy, true)
                case .closed, .failed:
                    return
                case .timedOut:
                    break
                }
                let now = ContinuousClock.now
                if let headStart {
                    if now - headStart > .milliseconds(options.headerTimeoutMs) {
                        respondAndClose(fd, .error(408, "request head not received within \(options.headerTimeoutMs) ms"))
                        return
                    }
                } else if now - idleStart > .milliseconds(options.idleTimeoutMs) {
                    return
                }
            }
            let (head, headLength) = parsed!
            buffer.consume(headLength)

            // 2. Streaming routes read the body themselves.
            if case .found(.streaming(let handler), let parameters, let pattern) = router.match(method: head.method, segments: HTTPRequest(method: head.method, target: head.target).pathSegments) {
                var request = HTTPRequest(method: head.method, target: head.target, headers: head.headers)
                request.pathParameters = parameters
                if head.expectsContinue, head.framing != .none {
                    Socket.writeAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                }
                let started = ContinuousClock.now
                let (response, bodyComplete) = serveStreaming(fd, &buffer, head, request, handler)
                let draining = setBusy(busy, true)
                let keepAlive = head.keepAlive && bodyComplete && !draining
                let ok = Socket.writeAll(fd, Self.serialize(response, keepAlive: keepAlive, headOnly: head.method == "HEAD", http10: head.minorVersion == 0))
                if let metrics {
                    let elapsed = ContinuousClock.now - started
                    metrics.record(route: pattern, method: head.method, status: response.status,
                                   seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
                if !ok || !keepAlive { return }
                if setBusy(busy, false) && buffer.isEmpty { return }
                continue
            }
            if case .contentLength(let length) = head.framing, length > limits.maxBodyBytes {
                respondAndClose(fd, .error(413, "request body larger than \(limits.maxBodyBytes) bytes"))
                return
            }

            // 3. The body.
            if head.expectsContinue, head.framing != .none {
                Socket.writeAll(fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            }
            let bodyStart = ContinuousClock.now
            var body: [UInt8] = []
            switch head.framing {
            case .none:
                break
            case .contentLength(let length):
                while buffer.count < length {
                    switch buffer.fill(from: fd, atMost: length - buffer.count) {
                    case .data: break
                    case .closed, .failed: return
                    case .timedOut: break
                    }
                    if ContinuousClock.now - bodyStart > .milliseconds(options.bodyTimeoutMs) {
                        respondAndClose(fd, .error(408, "request body not received within \(options.bodyTimeoutMs) ms"))
                        return
                    }
                }
                body = Array(buffer.readable.prefix(length))
                buffer.consume(length)
            case .chunked:
                var decoder = ChunkedDecoder(maxBodyBytes: limits.maxBodyBytes)
                while true {
                    do throws(HTTPParseError) {
                        let used = try decoder.feed(buffer.readable)
                        buffer.consume(used)
                    } catch {
                        respondAndClose(fd, .error(error.status, error.message))
                        return
                    }
                    if decoder.isComplete { break }
                    switch buffer.fill(from: fd) {
                    case .data: break
                    case .closed, .failed: return
                    case .timedOut: break
                    }
                    if ContinuousClock.now - bodyStart > .milliseconds(options.bodyTimeoutMs) {
                        respondAndClose(fd, .error(408, "request body not received within \(options.bodyTimeoutMs) ms"))
                        return
                    }
                }
                body = decoder.body
            }

            // 4. The handler, on Swift's concurrency pool; this thread waits for it.
            let request = HTTPRequest(method: head.method, target: head.target, headers: head.headers, body: body)
            let started = ContinuousClock.now
            let (response, pattern) = runHandler(request)
            let draining = setBusy(busy, true)
            let keepAlive = head.keepAlive && !draining
            let ok = Socket.writeAll(fd, Self.serialize(response, keepAlive: keepAlive, headOnly: head.method == "HEAD",
                                                        http10: head.minorVersion == 0))
            if let metrics {
                let elapsed = ContinuousClock.now - started
                metrics.record(route: pattern, method: head.method, status: response.status,
                               seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            if !ok || !keepAlive { return }
            if setBusy(busy, false) && buffer.isEmpty { return }
        }
    }

    /// Runs a streaming handler while this thread feeds it the body, one chunk per request for
    /// data. Returns the response and whether the body was read to its end (else the connection
    /// must close).
    private func serveStreaming(_ fd: Int32, _ buffer: inout ConnectionBuffer, _ head: HTTPRequestHead,
                                _ request: HTTPRequest, _ handler: @escaping HTTPStreamingHandler) -> (HTTPResponse, Bool) {
        let stream = HTTPBodyStream()
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        Task {
            box.value = (await handler(request, stream), "")
            stream.handlerFinished()
            done.signal()
        }
        var complete = false
        var broken = false
        var remaining = 0
        if case .contentLength(let length) = head.framing { remaining = length }
        var decoder = head.framing == .chunked ? ChunkedDecoder(maxBodyBytes: Int.max) : nil
        /// Reads more bytes, allowing `bodyTimeoutMs` of silence; false (after telling the handler) when it cannot.
        func fill(_ atMost: Int) -> Bool {
            let waitStart = ContinuousClock.now
            while true {
                switch buffer.fill(from: fd, atMost: atMost) {
                case .data: return true
                case .closed, .failed:
                    stream.deliver(nil, error: HTTPParseError(400, "connection closed before the end of the body"))
                    return false
                case .timedOut:
                    if ContinuousClock.now - waitStart > .milliseconds(options.bodyTimeoutMs) {
                        stream.deliver(nil, error: HTTPParseError(408, "no body data for \(options.bodyTimeoutMs) ms"))
                        return false
                    }
                }
            }
        }
        while !complete && !broken {
            stream.wake.wait()
            let (demand, finished) = stream.status
            if finished { break }
            if !demand { continue }
            switch head.framing {
            case .none:
                stream.deliver(nil)
                complete = true
            case .contentLength:
                if remaining == 0 {
                    stream.deliver(nil)
                    complete = true
                    continue
                }
                if buffer.isEmpty, !fill(min(remaining, 65536)) {
                    broken = true
                    continue
                }
                let take = min(buffer.count, remaining)
                let chunk = Array(buffer.readable.prefix(take))
                buffer.consume(take)
                remaining -= take
                stream.deliver(chunk)
            case .chunked:
                while true {
                    do throws(HTTPParseError) {
                        buffer.consume(try decoder!.feed(buffer.readable))
                    } catch {
                        stream.deliver(nil, error: error)
                        broken = true
                        break
                    }
                    let data = decoder!.takeBody()
                    if !data.isEmpty {
                        stream.deliver(data)
                        break
                    }
                    if decoder!.isComplete {
                        stream.deliver(nil)
                        complete = true
                        break
                    }
                    if !fill(65536) {
                        broken = true
                        break
                    }
                }
            }
        }
        done.wait()
        return (box.value?.0 ?? .error(500, "handler produced no response"), complete && !broken)
    }

    private func runHandler(_ request: HTTPRequest) -> (HTTPResponse, String) {
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let router = self.router
        Task {
            box.value = await router.route(request)
            done.signal()
        }
        done.wait()
        return box.value ?? (.error(500, "handler produced no response"), "unmatched")
    }

    private func respondAndClose(_ fd: Int32, _ response: HTTPResponse) {
        metrics?.record(route: "invalid", method: "-", status: response.status, seconds: 0)
        Socket.writeAll(fd, Self.serialize(response, keepAlive: false, headOnly: false))
    }

    static func serialize(_ response: HTTPResponse, keepAlive: Bool, headOnly: Bool, http10: Bool = false, nowMs: Int64 = Timestamp.nowMs()) -> [UInt8] {
        var head = "HTTP/1.\(http10 ? 0 : 1) \(response.status) \(HTTPStatus.reason(response.status))\r\n"
        head += "Date: \(HTTPDate.format(nowMs))\r\n"
        for (name, value) in response.headers.fields {
            let lower = name.lowercased()
            if lower == "content-length" || lower == "connection" || lower == "transfer-encoding" || lower == "date" { continue }
            // Header injection guard: values never carry CR or LF.
            head += "\(name): \(value.filter { $0 != "\r" && $0 != "\n" })\r\n"
        }
        head += "Content-Length: \(response.body.count)\r\n"
        if !keepAlive { head += "Connection: close\r\n" } else if http10 { head += "Connection: keep-alive\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        if !headOnly { out.append(contentsOf: response.body) }
        return out
    }
}

private final class ResultBox: @unchecked Sendable {
    // Written by the handler task before the semaphore signal, read after the wait.
    var value: (HTTPResponse, String)?
}

/// Bytes received on a connection and not yet used.
struct ConnectionBuffer {
    private var storage: [UInt8] = []
    private var start = 0

    var isEmpty: Bool { start == storage.count }
    var count: Int { storage.count - start }
    var readable: ArraySlice<UInt8> { storage[start...] }

    mutating func consume(_ n: Int) {
        start += n
        if start == storage.count {
            storage.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 65536, start > storage.count / 2 {
            storage.removeFirst(start)
            start = 0
        }
    }

    mutating func fill(from fd: Int32, atMost: Int = 65536) -> Socket.ReadResult {
        let chunk = max(1, min(atMost, 65536))
        return withUnsafeTemporaryAllocation(byteCount: chunk, alignment: 1) { scratch in
            let result = Socket.read(fd, into: scratch)
            if case .data(let n) = result {
                storage.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
            }
            return result
        }
    }
}

/// The server's metrics: requests by route, method and status; latency by route; connections.
final class HTTPMetrics: Sendable {
    let registry: MetricsRegistry
    let connections: Gauge
    let rejectedConnections: Counter

    init(_ registry: MetricsRegistry) {
        self.registry = registry
        connections = registry.gauge("http_connections", help: "Open HTTP connections")
        rejectedConnections = registry.counter("http_connections_rejected_total", help: "Connections refused because the server was at its connection limit")
    }

    func record(route: String, method: String, status: Int, seconds: Double) {
        registry.counter("http_requests_total", help: "HTTP requests by route, method and status",
                         labels: ["route": route, "method": method, "status": String(status)]).inc()
        registry.histogram("http_request_duration_seconds", help: "HTTP request latency by route", labels: ["route": route]).observe(seconds)
    }
}
