import Foundation
import HTTP
import Runtime

/// A blocking test client on a raw socket, so tests control every byte and every pause.
final class RawClient: @unchecked Sendable {
    let fd: Int32

    init(port: Int, receiveTimeoutMs: Int = 15_000) throws { // generous: a loaded 2-core machine can stall seconds
        fd = try Socket.connect(host: "127.0.0.1", port: port)
        Socket.setReceiveTimeout(fd, milliseconds: receiveTimeoutMs)
    }

    deinit { Socket.close(fd) }

    @discardableResult
    func send(_ text: String) -> Bool { Socket.writeAll(fd, Array(text.utf8)) }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool { Socket.writeAll(fd, bytes) }

    enum Outcome: Equatable {
        case response(status: Int, headers: [String: String], body: String)
        case closed
        case timedOut
    }

    private var pending: [UInt8] = []

    /// Reads one response (Content-Length framed, as our server always answers). Blocks: call it
    /// from Dispatch threads only; async tests use `read()`.
    func readBlocking() -> Outcome {
        while true {
            if let end = find(Array("\r\n\r\n".utf8)) {
                let headText = String(decoding: pending[..<end], as: UTF8.self)
                var lines = headText.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                var headers: [String: String] = [:]
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                if pending.count >= end + 4 + length {
                    let body = String(decoding: pending[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                    pending.removeFirst(end + 4 + length)
                    let status = statusLine.count > 1 ? Int(statusLine[1]) ?? -1 : -1
                    if status == 100 { continue }
                    return .response(status: status, headers: headers, body: body)
                }
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let result = chunk.withUnsafeMutableBytes { Socket.read(fd, into: $0) }
            switch result {
            case .data(let n): pending += chunk[..<n]
            case .closed, .failed: return .closed
            case .timedOut: return .timedOut
            }
        }
    }

    /// `readBlocking()` on a thread of its own, so a waiting test never holds a thread that the
    /// server's handlers (Swift tasks) need.
    func read() async -> Outcome {
        await BlockingWork.run("test.rawclient.read") { self.readBlocking() }
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard pending.count >= needle.count else { return nil }
        for i in 0...(pending.count - needle.count) where pending[i] == needle[0] && Array(pending[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }
}
