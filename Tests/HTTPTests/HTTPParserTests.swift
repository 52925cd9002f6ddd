import HTTP
import Testing

func head(_ text: String, limits: HTTPLimits = HTTPLimits()) -> HTTPHeadParser.Result {
    HTTPHeadParser.parse(Array(text.utf8)[...], limits: limits)
}

@Suite struct HTTPHeadParserTests {
    @Test func parsesRequestLineHeadersAndFraming() {
        guard case .complete(let h, let length) = head("POST /collect/json/web?dryrun=true HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nX-A:  padded  \r\n\r\nBODY") else {
            Issue.record("not complete")
            return
        }
        #expect(h.method == "POST")
        #expect(h.target == "/collect/json/web?dryrun=true")
        #expect(h.minorVersion == 1)
        #expect(h.framing == .contentLength(12))
        #expect(h.headers["x-a"] == "padded")
        #expect(h.keepAlive)
        #expect(length == "POST /collect/json/web?dryrun=true HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nX-A:  padded  \r\n\r\n".utf8.count)
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\n", "incomplete head"),
        ("GET / HTTP/1.1\r\nHost: x\r\n\r", "missing final LF"),
        ("", "nothing yet"),
    ])
    func needsMoreBytes(text: String, why: String) {
        #expect(head(text) == .needMore, "\(why)")
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\n\r\n", 400, "missing Host header"),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "only HTTP/1.0 and HTTP/1.1 are supported"),
        ("GET / FOO\r\nHost: x\r\n\r\n", 400, "malformed HTTP version"),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "malformed request line"),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid method"),
        ("GET nope HTTP/1.1\r\nHost: x\r\n\r\n", 400, "invalid request target"),
        ("GET / HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400, "invalid header name"),
        ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400, "header line without ':'"),
        ("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "obsolete header line folding"),
        ("GET / HTTP/1.1\nHost: x\r\n\r\n", 400, "bare LF in request head"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400, "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1e3\r\n\r\n", 400, "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400, "invalid Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "both Transfer-Encoding and Content-Length"),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "unsupported transfer coding gzip, chunked"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX: a\u{7f}b\r\n\r\n", 400, "invalid character in header value"),
    ])
    func refusesMalformedHeads(text: String, status: Int, message: String) {
        #expect(head(text) == .failed(HTTPParseError(status, message)))
    }

    @Test func bodyOverTheLimit_is413BeforeReadingIt() {
        let limits = HTTPLimits(maxBodyBytes: 100)
        #expect(head("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", limits: limits) == .failed(HTTPParseError(413, "request body larger than 100 bytes")))
    }

    @Test func oversizedHeaders_are431_andEndlessRequestLine_is414() {
        let limits = HTTPLimits(maxHeaderBytes: 256, maxTargetBytes: 128)
        let bigHeaders = "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-Pad: aaaaaaaaaaaaaaaaaaaaaaaa\r\n", count: 20)
        #expect(head(bigHeaders, limits: limits) == .failed(HTTPParseError(431, "request headers larger than 256 bytes")))
        let endless = "GET /" + String(repeating: "a", count: 400)
        #expect(head(endless, limits: limits) == .failed(HTTPParseError(414, "request line longer than 128 bytes")))
        let manyHeaders = "GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "A: b\r\n", count: 101) + "\r\n"
        #expect(head(manyHeaders, limits: HTTPLimits(maxHeaderBytes: 4096)) == .failed(HTTPParseError(431, "more than 100 header fields")))
    }

    @Test(arguments: [
        ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),
        ("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false),
        ("GET / HTTP/1.0\r\n\r\n", false),
        ("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
    ])
    func keepAliveRules(text: String, keepAlive: Bool) {
        guard case .complete(let h, _) = head(text) else {
            Issue.record("not parsed")
            return
        }
        #expect(h.keepAlive == keepAlive)
    }
}

@Suite struct ChunkedDecoderTests {
    @Test func decodesChunksSplitAtEveryByte() throws {
        let wire = Array("5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nTrailer: x\r\n\r\n".utf8)
        for split in 1..<wire.count {
            var d = ChunkedDecoder(maxBodyBytes: 100)
            var pending: [UInt8] = []
            for part in [wire[..<split], wire[split...]] {
                pending += part
                let used = try d.feed(pending[...])
                pending.removeFirst(used)
            }
            #expect(d.isComplete, "split at \(split)")
            #expect(String(decoding: d.body, as: UTF8.self) == "hello, world")
        }
    }

    @Test(arguments: [
        ("zz\r\n", 400, "invalid chunk size"),
        ("5\r\nhelloXX", 400, "chunk data not followed by CRLF"),
        ("5\nhello\r\n", 400, "chunk size line without CRLF"),
        ("ffffffffff\r\n", 400, "invalid chunk size"),
        ("65\r\n", 413, "request body larger than 100 bytes"),
    ])
    func refusesBadChunks(wire: String, status: Int, message: String) {
        var d = ChunkedDecoder(maxBodyBytes: 100)
        #expect(throws: HTTPParseError(status, message)) { _ = try d.feed(Array(wire.utf8)[...]) }
    }
}

@Suite struct RouterTests {
    func router() -> Router {
        var r = Router()
        r.get("/api/segment/{id}") { req in .text(200, "one \(req[parameter: "id"]!)") }
        r.get("/api/segment/sizes") { _ in .text(200, "sizes") }
        r.post("/api/segment") { _ in .text(201, "created") }
        r.get("/files/{path...}") { req in .text(200, req[parameter: "path"]!) }
        return r
    }

    @Test(arguments: [
        ("GET", "/api/segment/abc", 200, "one abc"),
        ("GET", "/api/segment/sizes", 200, "sizes"),
        ("HEAD", "/api/segment/sizes", 200, "sizes"),
        ("POST", "/api/segment", 201, "created"),
        ("GET", "/api/segment/", 405, nil),
        ("DELETE", "/api/segment/abc", 405, nil),
        ("GET", "/nope", 404, nil),
        ("GET", "/files/a/b/c.txt", 200, "a/b/c.txt"),
        ("GET", "/api/segment/caf%C3%A9", 200, "one café"),
        // An encoded slash stays inside its segment: a parameter can hold any value.
        ("GET", "/api/segment/org%2F42", 200, "one org/42"),
        ("GET", "/api/segment/org/42", 404, nil),
        ("GET", "/api/segment/%zz", 200, "one %zz"),
        ("GET", "/files/a%2Fb/c.txt", 200, "a/b/c.txt"),
    ])
    func routes(method: String, target: String, status: Int, body: String?) async {
        let response = await router().handle(HTTPRequest(method: method, target: target))
        #expect(response.status == status)
        if let body { #expect(String(decoding: response.body, as: UTF8.self) == body) }
        if status == 405 { #expect(response.headers["Allow"] != nil) }
    }

    @Test func queryParameters_areDecoded() {
        let r = HTTPRequest(method: "GET", target: "/x?a=1&b=hello+world&c=%2F&a=2&flag")
        #expect(r.query("a") == "1")
        #expect(r.query("b") == "hello world")
        #expect(r.query("c") == "/")
        #expect(r.query("flag") == "")
        #expect(r.queryItems.filter { $0.name == "a" }.map(\.value) == ["1", "2"])
    }
}
