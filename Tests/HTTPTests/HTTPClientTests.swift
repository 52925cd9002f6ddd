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

    func freePortForClientTest() -> Int {
        // Bind and release: nothing listens there afterwards.
        let fd = try! Socket.listen(host: "127.0.0.1", port: 0)
        let port = Socket.localPort(fd)
        Socket.close(fd)
        return port
    }
}
