import Foundation
import HTTP
import Runtime
import Testing

/// A live server on a random port for one test.
final class LiveServer: @unchecked Sendable {
    let server: HTTPServer
    let task: Task<Void, Error>
    let port: Int
    let metrics = MetricsRegistry()
    /// Requests to /slow whose handler has started.
    let slowStarted = AtomicInt()

    init(options: HTTPServerOptions = HTTPServerOptions()) throws {
        var router = Router()
        let started = slowStarted
        router.post("/echo") { req in HTTPResponse(status: 200, body: req.body) }
        router.get("/hello/{name}") { req in .json(200, data: ["hello": .string(req[parameter: "name"] ?? "")]) }
        router.get("/slow") { _ in
            started.add(1)
            try? await Task.sleep(for: .milliseconds(700))
            return .text(200, "slow done")
        }
        let registry = metrics
        router.mountOperations(service: "test", metrics: registry) { .ready }
        server = HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), router: router, options: options,
                            logger: Logger(label: "http-test", level: .error, sink: MemorySink()), metrics: registry)
        port = try server.start()
        let s = server
        task = Task { try await s.run() }
    }

    func stop() async {
        task.cancel()
        _ = try? await task.value
    }
}

@Suite(.serialized) struct HTTPServerTests {
    @Test func keepAlive_servesSeveralRequestsOnOneConnection_andPipelines() async throws {
        let live = try LiveServer()
        let c = try RawClient(port: live.port)
        c.send("GET /hello/ada HTTP/1.1\r\nHost: t\r\n\r\n")
        let before = Timestamp.nowMs()
        guard case .response(let status, var headers, let body) = await c.read() else {
            Issue.record("no response")
            return
        }
        // Every response carries the server's Date (RFC 9110 §6.6.1), to the second.
        let date = headers.removeValue(forKey: "date").flatMap { HTTPDate.parse($0, nowMs: before) }
        #expect(date.map { $0 >= before / 1000 * 1000 - 1000 && $0 <= Timestamp.nowMs() } == true)
        #expect(status == 200 && headers == ["content-type": "application/json", "content-length": "52"]
                && body == #"{"data":{"hello":"ada"},"message":"ok","status":200}"#)
        // Two requests in one write: answered in order.
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nonePOST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\ntwo")
        guard case .response(200, _, "one") = await c.read(), case .response(200, _, "two") = await c.read() else {
            Issue.record("pipelined responses wrong")
            return
        }
        await live.stop()
    }

    @Test func chunkedBodies_expectContinue_andHTTP10() async throws {
        let live = try LiveServer()
        let c = try RawClient(port: live.port)
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n")
        guard case .response(200, _, "Wikipedia") = await c.read() else {
            Issue.record("chunked echo failed")
            return
        }
        let old = try RawClient(port: live.port)
        old.send("GET /healthz HTTP/1.0\r\n\r\n")
        guard case .response(200, let headers, _) = await old.read() else {
            Issue.record("HTTP/1.0 failed")
            return
        }
        #expect(headers["connection"] == "close")
        #expect(await old.read() == .closed)
        await live.stop()
    }

    @Test func limits_answer413And431AndClose() async throws {
        var options = HTTPServerOptions()
        options.limits = HTTPLimits(maxHeaderBytes: 1024, maxBodyBytes: 64)
        let live = try LiveServer(options: options)
        let c = try RawClient(port: live.port)
        c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 65\r\n\r\n")
        guard case .response(413, let h, let body) = await c.read() else {
            Issue.record("expected 413")
            return
        }
        #expect(h["connection"] == "close")
        #expect(body.contains("request body larger than 64 bytes"))
        #expect(await c.read() == .closed)

        let d = try RawClient(port: live.port)
        d.send("GET / HTTP/1.1\r\nHost: t\r\n" + String(repeating: "X-Long: \(String(repeating: "a", count: 100))\r\n", count: 12))
        guard case .response(431, _, _) = await d.read() else {
            Issue.record("expected 431")
            return
        }

        let e = try RawClient(port: live.port)
        e.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n" + String(repeating: "z", count: 65) + "\r\n0\r\n\r\n")
        guard case .response(413, _, _) = await e.read() else {
            Issue.record("expected 413 for chunked")
            return
        }
        await live.stop()
    }

    @Test func slowClients_get408_andIdleConnectionsClose() async throws {
        var options = HTTPServerOptions()
        options.headerTimeoutMs = 600
        options.bodyTimeoutMs = 600
        options.idleTimeoutMs = 800
        let live = try LiveServer(options: options)
        let slowHead = try RawClient(port: live.port)
        slowHead.send("GET /healthz HTTP/1.1\r\nHo")
        guard case .response(408, _, _) = await slowHead.read() else {
            Issue.record("expected 408 for a slow head")
            return
        }
        let slowBody = try RawClient(port: live.port)
        slowBody.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        guard case .response(408, _, _) = await slowBody.read() else {
            Issue.record("expected 408 for a slow body")
            return
        }
        let idle = try RawClient(port: live.port)
        let started = Date()
        #expect(await idle.read() == .closed)
        #expect(Date().timeIntervalSince(started) > 0.5)
        await live.stop()
    }

    @Test func connectionLimit_answers503() async throws {
        var options = HTTPServerOptions()
        options.maxConnections = 2
        let live = try LiveServer(options: options)
        let a = try RawClient(port: live.port)
        let b = try RawClient(port: live.port)
        a.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        b.send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        guard case .response(200, _, _) = await a.read(), case .response(200, _, _) = await b.read() else {
            Issue.record("first two connections should be served")
            return
        }
        let c = try RawClient(port: live.port)
        guard case .response(503, let headers, _) = await c.read() else {
            Issue.record("third connection should get 503")
            return
        }
        #expect(headers["retry-after"] == "1")
        await live.stop()
    }

    @Test func shutdown_drains_inFlightRequestsFinish() async throws {
        // Generous limits throughout: the whole suite runs side by side on as few as 2 cores.
        var options = HTTPServerOptions()
        options.drainTimeoutMs = 30_000
        let live = try LiveServer(options: options)
        let busy = try RawClient(port: live.port)
        busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        let idle = try RawClient(port: live.port)
        // Stop once the request is being handled (a fixed pause was too short on a loaded
        // machine: the server had not read the request yet, so the connection was idle).
        for _ in 0..<1500 where live.slowStarted.load() == 0 { try await Task.sleep(for: .milliseconds(20)) }
        #expect(live.slowStarted.load() == 1)
        let stopping = Task { await live.stop() }
        let outcome = await busy.read()
        guard case .response(200, let headers, "slow done") = outcome else {
            Issue.record("in-flight request should finish, got \(outcome)")
            return
        }
        #expect(headers["connection"] == "close")
        #expect(await idle.read() == .closed)
        await stopping.value
        #expect(throws: SocketError.self) { _ = try RawClient(port: live.port) }
    }

    @Test func operationsRoutes_andMetrics() async throws {
        let live = try LiveServer()
        let c = try RawClient(port: live.port)
        c.send("GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
        guard case .response(200, _, let ready) = await c.read() else {
            Issue.record("readyz")
            return
        }
        #expect(ready.contains("\"message\":\"ready\""))
        c.send("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        guard case .response(404, _, _) = await c.read() else {
            Issue.record("404")
            return
        }
        c.send("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        guard case .response(200, let headers, let text) = await c.read() else {
            Issue.record("metrics")
            return
        }
        #expect(headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        #expect(text.contains(#"http_requests_total{method="GET",route="/readyz",status="200"} 1"#))
        #expect(text.contains(#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#))
        #expect(text.contains("http_request_duration_seconds_bucket"))
        await live.stop()
    }
}
