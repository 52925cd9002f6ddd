import Foundation
import Runtime
import Synchronization
import Testing

@Suite struct ConfigReaderTests {
    @Test func flagsOverrideEnvironment_andDefaultsApply() throws {
        var r = ConfigReader(environment: ["CDP_PORT": "9000", "CDP_NAME": "env"], arguments: ["--port", "9100", "--verbose"])
        let port = r.int(env: "CDP_PORT", flag: "--port", default: 1, range: 1...65535)
        let name = r.string(env: "CDP_NAME", flag: "--name", default: "d")
        let missing = r.string(env: "CDP_MISSING", flag: "--missing", default: "d")
        let verbose = r.bool(flag: "--verbose", default: false)
        #expect(port == 9100)
        #expect(name == "env")
        #expect(missing == "d")
        #expect(verbose)
        try r.finish()
    }

    @Test func badValues_areAllReportedTogether() {
        var r = ConfigReader(environment: ["CDP_PORT": "abc", "CDP_LOG_LEVEL": "loud"], arguments: ["--size=70000", "--bogus", "x"])
        _ = r.int(env: "CDP_PORT", default: 1)
        _ = r.int(flag: "--size", default: 1, range: 1...65535)
        _ = r.logLevel()
        let reader = r
        #expect(throws: ConfigError.self) { try reader.finish() }
        var problems: [String] = []
        do { try reader.finish() } catch let e as ConfigError { problems = e.problems } catch {}
        #expect(problems.contains("CDP_PORT=abc: not an integer"))
        #expect(problems.contains("--size=70000: must be between 1 and 65535"))
        #expect(problems.contains("CDP_LOG_LEVEL=loud: expected debug, info, warning or error"))
        #expect(problems.contains("unknown flag --bogus"))
    }

    @Test(arguments: [("250ms", 250), ("5s", 5000), ("2m", 120_000), ("1h", 3_600_000), ("1.5", 1500), ("0", 0)])
    func durations(text: String, ms: Int64) {
        #expect(ConfigReader.parseDuration(text) == .milliseconds(ms))
    }

    @Test(arguments: ["", "-1s", "5x", "ms", "abc"])
    func badDurations(text: String) {
        #expect(ConfigReader.parseDuration(text) == nil)
    }

    @Test(arguments: [(":8080", "0.0.0.0", 8080), ("127.0.0.1:0", "127.0.0.1", 0), ("[::1]:80", "::1", 80)])
    func listenAddresses(text: String, host: String, port: Int) {
        #expect(ListenAddress(text) == ListenAddress(host: host, port: port))
    }

    @Test(arguments: ["8080", "host:", "host:70000", ":-1"])
    func badListenAddresses(text: String) {
        #expect(ListenAddress(text) == nil)
    }
}

@Suite struct DaemonConfigTests {
    @Test func readsTheSharedSettings() throws {
        var r = ConfigReader(environment: ["CDP_BROKERS": "k1:9092,k2:9092", "CDP_ADMIN_TOKEN": "0123456789abcdef0123", "CDP_DATA_DIR": "/var/lib/cdp"],
                             arguments: ["--http-addr", "127.0.0.1:9999", "--topic-prefix", "prod."])
        let c = DaemonConfig.read(from: &r, defaultHTTPAddress: ":8080", instanceDefault: "host-1")
        try r.finish()
        #expect(c == DaemonConfig(brokers: "k1:9092,k2:9092", topicPrefix: "prod.", httpAddress: ListenAddress(host: "127.0.0.1", port: 9999),
                                  adminToken: "0123456789abcdef0123", dataDirectory: "/var/lib/cdp", logLevel: .info, instanceID: "host-1"))
    }

    @Test func defaults_andValidation() {
        var r = ConfigReader(environment: [:], arguments: [])
        let c = DaemonConfig.read(from: &r, defaultHTTPAddress: ":8081", instanceDefault: "h")
        #expect(c.httpAddress == ListenAddress(host: "0.0.0.0", port: 8081))
        #expect(c.brokers == "127.0.0.1:9092")
        #expect(c.adminToken == nil)

        var bad = ConfigReader(environment: ["CDP_BROKERS": "nohost", "CDP_ADMIN_TOKEN": "short", "CDP_TOPIC_PREFIX": "a b"], arguments: ["--http-addr", "x"])
        _ = DaemonConfig.read(from: &bad, defaultHTTPAddress: ":8080", instanceDefault: "h")
        #expect(bad.problems.count == 4)
    }
}

@Suite struct MetricsTests {
    @Test func rendersPrometheusTextFormat() {
        let m = MetricsRegistry()
        m.counter("requests_total", help: "Requests", labels: ["route": "/a", "status": "200"]).inc(3)
        m.counter("requests_total", help: "Requests", labels: ["status": "500", "route": "/a"]).inc()
        m.gauge("queue_depth", help: "Depth").set(7)
        let h = m.histogram("latency_seconds", help: "Latency", bounds: [0.1, 1])
        h.observe(0.05)
        h.observe(0.5)
        h.observe(5)
        let text = m.render()
        #expect(text.contains("# TYPE requests_total counter\n"))
        #expect(text.contains("requests_total{route=\"/a\",status=\"200\"} 3\n"))
        #expect(text.contains("requests_total{route=\"/a\",status=\"500\"} 1\n"))
        #expect(text.contains("queue_depth 7\n"))
        #expect(text.contains("latency_seconds_bucket{le=\"0.1\"} 1\n"))
        #expect(text.contains("latency_seconds_bucket{le=\"1\"} 2\n"))
        #expect(text.contains("latency_seconds_bucket{le=\"+Inf\"} 3\n"))
        #expect(text.contains("latency_seconds_count 3\n"))
        #expect(text.contains("latency_seconds_sum 5.55\n"))
    }

    @Test func labelValuesAreEscaped() {
        let m = MetricsRegistry()
        m.counter("x_total", help: "X", labels: ["path": "a\"b\\c\nd"]).inc()
        #expect(m.render().contains(#"x_total{path="a\"b\\c\nd"} 1"#))
    }

    @Test func sameSeries_isOneCounter() {
        let m = MetricsRegistry()
        m.counter("c_total", help: "C", labels: ["a": "1"]).inc()
        m.counter("c_total", help: "C", labels: ["a": "1"]).inc()
        #expect(m.counter("c_total", help: "C", labels: ["a": "1"]).current == 2)
    }
}

@Suite struct LoggerTests {
    @Test func writesOneJSONObjectPerLine_andFiltersByLevel() throws {
        let sink = MemorySink()
        let logger = Logger(label: "svc", level: .info, sink: sink).with(["instance": "a"])
        logger.debug("hidden")
        logger.info("hello \"world\"", ["count": "3"])
        logger.error("bad\nthing")
        #expect(sink.lines.count == 2)
        let first = try JSONParser().parse(sink.lines[0])
        #expect(first["msg"] == .string("hello \"world\""))
        #expect(first["level"] == .string("info"))
        #expect(first["logger"] == .string("svc"))
        #expect(first["count"] == .string("3"))
        #expect(first["instance"] == .string("a"))
        #expect(try JSONParser().parse(sink.lines[1])["msg"] == .string("bad\nthing"))
    }

    @Test(arguments: [(Int64(0), "1970-01-01T00:00:00.000Z"), (1_795_920_842_019, "2026-11-29T02:54:02.019Z"), (-1, "1969-12-31T23:59:59.999Z"),
                      (951_782_400_000, "2000-02-29T00:00:00.000Z"), (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
                      (253_402_300_800_000, "0000-01-01T00:00:00.000Z"), (-62_135_596_800_001, "0000-12-31T23:59:59.999Z")])
    func timestamps(ms: Int64, text: String) {
        #expect(Timestamp.rfc3339Millis(epochMs: ms) == text)
        var out = Array("t=".utf8) // appended after what is there
        Timestamp.appendRFC3339Millis(epochMs: ms, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "t=" + text)
    }
}

@Suite struct ServiceGroupTests {
    final class Events: Sendable {
        let list = Mutex<[String]>([])
        func append(_ e: String) { list.withLock { $0.append(e) } }
    }

    struct Recording: Service {
        let name: String
        let events: Events
        func run() async throws {
            events.append("start \(name)")
            await waitForCancellation()
            events.append("stop \(name)")
        }
    }

    struct Failing: Service {
        let name = "failing"
        func run() async throws {
            try await Task.sleep(for: .milliseconds(50))
            throw CancellationError()
        }
    }

    @Test func aServiceEnding_stopsTheOthersInReverseOrder() async throws {
        let events = Events()
        let a = Recording(name: "a", events: events)
        let b = Recording(name: "b", events: events)
        let group = ServiceGroup(services: [a, b, Failing()], logger: Logger(label: "t", level: .error, sink: MemorySink()),
                                 gracePeriod: .seconds(5), signals: [])
        await #expect(throws: ServiceGroupError.self) { try await group.run() }
        let seen = events.list.withLock { $0 }
        #expect(Set(seen.prefix(2)) == ["start a", "start b"])
        #expect(Array(seen.suffix(2)) == ["stop b", "stop a"])
    }
}
