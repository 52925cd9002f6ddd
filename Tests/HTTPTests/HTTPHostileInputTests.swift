import Foundation
import HTTP
import Runtime
import Synchronization
import TestSupport
import Testing

/// Throws thousands of random, truncated and malformed requests at a live server. Every one must
/// be answered with a valid status or closed cleanly — never hang — and the server must keep
/// serving valid requests. Seeded, so a failure reproduces.
@Suite struct HTTPHostileInputTests {
    static let seed: UInt64 = 20261129
    static let cases = 3000

    static let validRequests = [
        "GET /hello/ada HTTP/1.1\r\nHost: t\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world",
        "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "GET /healthz HTTP/1.0\r\n\r\n",
        "PUT /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    ]

    /// One hostile request, chosen by `rng`.
    static func makeCase(_ rng: inout SeededRNG) -> [UInt8] {
        let base = Array(validRequests[Int(rng.next() % UInt64(validRequests.count))].utf8)
        switch rng.next() % 7 {
        case 0: // random bytes
            return (0..<Int(rng.next() % 600)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        case 1: // truncated anywhere
            return Array(base.prefix(Int(rng.next() % UInt64(base.count))))
        case 2: // a few bytes flipped
            var b = base
            for _ in 0...(rng.next() % 4) { b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            return b
        case 3: // bytes inserted
            var b = base
            let noise = Array(" \r\n:\t\0%{}\u{7f}".utf8)
            for _ in 0...(rng.next() % 4) {
                b.insert(noise[Int(rng.next() % UInt64(noise.count))], at: Int(rng.next() % UInt64(b.count)))
            }
            return b
        case 4: // hostile framing
            let lies = ["Content-Length: 999999999", "Content-Length: -5", "Content-Length: 5, 6", "Transfer-Encoding: chunked\r\nContent-Length: 3",
                        "Transfer-Encoding: identity", "Content-Length: 4\r\nContent-Length: 4", "Transfer-Encoding: chunked"]
            let lie = lies[Int(rng.next() % UInt64(lies.count))]
            let tail = ["", "ffffffffffffffff\r\n", "3\r\nab", "zz\r\n\r\n", "abc"][Int(rng.next() % 5)]
            return Array("POST /echo HTTP/1.1\r\nHost: t\r\n\(lie)\r\n\r\n\(tail)".utf8)
        case 5: // oversized pieces
            let big = String(repeating: "A", count: Int(rng.next() % 40_000))
            return Array(["GET /\(big) HTTP/1.1\r\nHost: t\r\n\r\n", "GET / HTTP/1.1\r\nHost: t\r\nX: \(big)\r\n\r\n",
                          "GET / HTTP/1.1\r\n" + String(repeating: "H: v\r\n", count: Int(rng.next() % 300)) + "Host: t\r\n\r\n"][Int(rng.next() % 3)].utf8)
        default: // many requests on one connection, the last one broken
            var b: [UInt8] = []
            for _ in 0..<(1 + rng.next() % 4) { b += Array(validRequests[Int(rng.next() % UInt64(validRequests.count))].utf8) }
            b += Array("GARBAGE\r\n\r\n".utf8)
            return b
        }
    }

    static let allowedStatuses: Set<Int> = [200, 400, 404, 405, 408, 413, 414, 431, 501, 505]

    @Test func thousandsOfHostileRequests_areAnsweredOrClosed_andTheServerKeepsServing() async throws {
        var options = HTTPServerOptions()
        options.headerTimeoutMs = 1000
        options.bodyTimeoutMs = 1000
        options.limits = HTTPLimits(maxHeaderBytes: 16 * 1024, maxBodyBytes: 64 * 1024)
        let live = try LiveServer(options: options)
        let port = live.port

        var rng = SeededRNG(seed: Self.seed)
        let inputs = (0..<Self.cases).map { _ in Self.makeCase(&rng) }
        let problems = Locked<[String]>([])
        let counts = Locked<[String: Int]>([:])
        // Eight clients side by side, each on a thread of its own (they block on their sockets).
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    await BlockingWork.run("test.hostile.client") {
                        for index in stride(from: worker, to: inputs.count, by: 8) {
                            let outcome = Self.send(inputs[index], port: port)
                            counts.withLock { $0[outcome.label, default: 0] += 1 }
                            if let problem = outcome.problem {
                                problems.withLock { $0.append("case \(index): \(problem)") }
                            }
                        }
                    }
                }
            }
        }
        let found = problems.withLock { $0 }
        #expect(found.isEmpty, "\(found.prefix(10))")
        // The server still answers valid requests, and no connection is left behind.
        let c = try RawClient(port: port)
        c.send("GET /hello/after HTTP/1.1\r\nHost: t\r\n\r\n")
        guard case .response(200, _, let body) = await c.read() else {
            Issue.record("server stopped serving after hostile input")
            return
        }
        #expect(body.contains("after"))
        let summary = counts.withLock { $0 }
        #expect(summary.values.reduce(0, +) == Self.cases)
        #expect((summary["closed"] ?? 0) > 0 && (summary["400"] ?? 0) > 0 && (summary["200"] ?? 0) > 0)
        await live.stop()
    }

    struct Outcome {
        var label: String
        var problem: String?
    }

    /// Sends the bytes, half-closes, and reads every response until the server closes.
    static func send(_ bytes: [UInt8], port: Int) -> Outcome {
        // Generous: the whole suite runs side by side on as few as 2 cores.
        guard let client = try? RawClient(port: port, receiveTimeoutMs: 30_000) else {
            return Outcome(label: "connect-failed", problem: "could not connect")
        }
        client.send(bytes)
        Socket.shutdownWrite(client.fd)
        var last = "closed"
        for _ in 0..<10 {
            switch client.readBlocking() {
            case .response(let status, _, _):
                guard allowedStatuses.contains(status) else { return Outcome(label: "bad", problem: "unexpected status \(status)") }
                last = String(status)
            case .closed:
                return Outcome(label: last)
            case .timedOut:
                return Outcome(label: "hung", problem: "no answer and no close within 30 s")
            }
        }
        return Outcome(label: last, problem: "more responses than requests")
    }
}
