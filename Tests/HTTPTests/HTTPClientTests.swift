import Foundation
import HTTP
import Runtime
import Testing

@Suite struct HTTPClientTests {
    @Test func postsAndReadsResponses_fromALiveServer() async throws {
        let live = try LiveServer()
        // Generous: with the whole suite running on 2 cores, the server's task once started more
        // than 5 s late (a timeout here says nothing about the client).
        let client = HTTPClient(timeoutSeconds: 30)
        let echoed = try await client.send("POST", "http://127.0.0.1:\(live.port)/echo", headers: [("X-Test", "1")], body: Array("payload".utf8))
        #expect(echoed.status == 200)
        #expect(String(decoding: echoed.body, as: UTF8.self) == "payload")
        let missing = try await client.send("GET", "http://127.0.0.1:\(live.port)/nope")
        #expect(missing.status == 404)
        #expect(missing.header("content-type") == "application/json")
        await live.stop()
    }

    @Test func refusesBadURLs_andReportsTransportErrors() async {
        let client = HTTPClient(timeoutSeconds: 2)
        await #expect(throws: HTTPClientError.self) { _ = try await client.send("GET", "ftp://example.com/x") }
        await #expect(throws: HTTPClientError.self) { _ = try await client.send("GET", "http://127.0.0.1:\(freePortForClientTest())/") }
    }

    /// A destination that answers with an endless body: the client gives up once the body passes
    /// its limit (it used to buffer all of it, until the request timed out).
    @Test func endlessResponses_areCutOffAtTheLimit() async throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        let port = Socket.localPort(listener)
        let written = AtomicInt()
        let serverDone = AtomicFlag()
        BlockingWork.start("test.endless.server") {
            guard let client = try? Socket.accept(listener) else { return }
            var request = [UInt8](repeating: 0, count: 4096)
            _ = request.withUnsafeMutableBytes { Socket.read(client, into: $0) }
            guard Socket.writeAll(client, Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n".utf8)) else { return }
            let chunk = [UInt8](repeating: 0x61, count: 64 * 1024)
            // Until the client goes away (or 1 GiB, so a broken client cannot hang the test).
            while written.load() < 1 << 30, Socket.writeAll(client, chunk) { written.add(chunk.count) }
            Socket.close(client)
            Socket.close(listener)
            serverDone.store(true)
        }
        let client = HTTPClient(timeoutSeconds: 20, maxResponseBytes: 1 << 20)
        do {
            _ = try await client.send("GET", "http://127.0.0.1:\(port)/")
            Issue.record("an endless body was returned")
        } catch let error as HTTPClientError {
            guard case .responseTooLarge(let limit) = error else {
                Issue.record("expected responseTooLarge, got \(error)")
                return
            }
            #expect(limit == 1 << 20)
        }
        // The client cancels once past the limit and the server's writes fail. (How much more
        // URLSession reads before the cancellation lands depends on the load: about 2 MiB on an
        // idle machine, up to hundreds of MiB with both cores busy — it reads ahead of its
        // callbacks — so the amount is not asserted; the previous client always read everything.)
        for _ in 0..<1500 where !serverDone.load() { try await Task.sleep(for: .milliseconds(20)) }
        #expect(serverDone.load())
    }

    func freePortForClientTest() -> Int {
        // Bind and release: nothing listens there afterwards.
        let fd = try! Socket.listen(host: "127.0.0.1", port: 0)
        let port = Socket.localPort(fd)
        Socket.close(fd)
        return port
    }
}
