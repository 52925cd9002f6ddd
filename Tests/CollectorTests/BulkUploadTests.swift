import Collector
import Foundation
import HTTP
import Log
import Model
import Runtime
import Testing

@Suite struct BulkUploadTests {
    @Test func csvUpload_acceptsGoodRows_reportsBadOnesWithLineNumbers() async throws {
        let fx = try await CollectorFixture()
        let csv = "email,name,_ts\nada@x.com,\"Lovelace, Ada\",1795000000\nbob@y.com,Bob\ncy@z.com,Cy,notatime\n\ndee@w.com,Dee,\n"
        let r = await fx.call("POST", "/collect/bulk/crm", body: csv, headers: [("Content-Type", "text/csv")])
        #expect(r.status == 200)
        #expect(r.json["data"]?["accepted"] == 2)
        #expect(r.json["data"]?["rejected"] == 2)
        let errors = r.json["data"]?["errors"]?.arrayValue ?? []
        #expect(errors.compactMap { $0["line"]?.intValue } == [3, 4])
        #expect(errors.first?["reason"] == "row has 2 fields, the header has 3")
        let events = try fx.events().map { try EventRecord.parse($0.value!, fallbackID: "", fallbackTimestampMs: 0) }
        #expect(events.map { $0.data["email"] } == ["ada@x.com", "dee@w.com"])
        #expect(events[0].timestampMs == 1_795_000_000_000 && events[0].data["name"] == "Lovelace, Ada")
        #expect(events[1].data["_ts"] == nil)
    }

    @Test func ndjsonUpload_andBadRequests() async throws {
        let fx = try await CollectorFixture()
        let r = await fx.call("POST", "/collect/bulk/app?format=ndjson", body: "{\"a\":1}\n\nnope\n{\"a\":3}")
        #expect(r.status == 200)
        #expect(r.json["data"]?["accepted"] == 2)
        #expect(r.json["data"]?["errors"]?.arrayValue?.first?["line"] == 3)
        #expect(await fx.call("POST", "/collect/bulk/app", body: "x").status == 415)
        let badHeader = await fx.call("POST", "/collect/bulk/app", body: "a,a\n1,2\n", headers: [("Content-Type", "text/csv")])
        #expect(badHeader.status == 400)
        #expect(badHeader.json["message"]?.stringValue?.hasPrefix("CSV header row must name every column once") == true)
    }

    /// A live server with a 64 KiB body limit takes a ~6 MB chunked CSV upload on the bulk route:
    /// the body is streamed, not buffered.
    @Test func largeChunkedUpload_streamsPastTheBodyLimit() async throws {
        let fx = try await CollectorFixture()
        var options = HTTPServerOptions()
        options.limits.maxBodyBytes = 64 * 1024
        let server = HTTPServer(address: ListenAddress(host: "127.0.0.1", port: 0), router: fx.router, options: options,
                                logger: Logger(label: "t", level: .error, sink: MemorySink()))
        let port = try server.start()
        let rows = 100_000
        let result: (Int, String) = await withCheckedContinuation { continuation in
            BlockingWork.start("test.bulk.upload") {
                do {
                    let fd = try Socket.connect(host: "127.0.0.1", port: port)
                    defer { Socket.close(fd) }
                    Socket.setReceiveTimeout(fd, milliseconds: 60_000)
                    Socket.writeAll(fd, Array("POST /collect/bulk/crm HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(adminToken)\r\nContent-Type: text/csv\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
                    var pending = "email,plan,score\n"
                    for i in 0..<rows {
                        pending += "user\(i)@example.com,plan-\(i % 7),\(i % 100)\n"
                        if pending.utf8.count > 30_000 || i == rows - 1 {
                            let bytes = Array(pending.utf8)
                            Socket.writeAll(fd, Array((String(bytes.count, radix: 16) + "\r\n").utf8) + bytes + Array("\r\n".utf8))
                            pending = ""
                        }
                    }
                    Socket.writeAll(fd, Array("0\r\n\r\n".utf8))
                    var response: [UInt8] = []
                    var chunk = [UInt8](repeating: 0, count: 65536)
                    while !String(decoding: response, as: UTF8.self).contains("\"status\":") {
                        guard case .data(let n) = chunk.withUnsafeMutableBytes({ Socket.read(fd, into: $0) }) else { break }
                        response += chunk[..<n]
                    }
                    let text = String(decoding: response, as: UTF8.self)
                    let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
                    continuation.resume(returning: (status, text))
                } catch {
                    continuation.resume(returning: (0, "\(error)"))
                }
            }
        }
        #expect(result.0 == 200, "\(result.1.prefix(500))")
        #expect(result.1.contains("\"accepted\":\(rows)"))
        #expect(fx.events().count == rows)
        await server.drain()
    }
}
