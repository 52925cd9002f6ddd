/// Limits the server enforces on every request.
public struct HTTPLimits: Sendable {
    /// Request line plus headers (→ 431; an overlong request line → 414).
    public var maxHeaderBytes = 16 * 1024
    public var maxHeaderCount = 100
    public var maxTargetBytes = 8 * 1024
    /// Body after de-chunking (→ 413).
    public var maxBodyBytes = 10 * 1024 * 1024

    public init(maxHeaderBytes: Int = 16 * 1024, maxHeaderCount: Int = 100, maxTargetBytes: Int = 8 * 1024,
                maxBodyBytes: Int = 10 * 1024 * 1024) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxTargetBytes = maxTargetBytes
        self.maxBodyBytes = maxBodyBytes
    }
}

/// A request the server must refuse, with the status to answer.
public struct HTTPParseError: Error, Equatable, Sendable {
    public let status: Int
    public let message: String
    public init(_ status: Int, _ message: String) {
        self.status = status
        self.message = message
    }
}

/// How the body of a request is delimited.
public enum BodyFraming: Equatable, Sendable {
    case none
    case contentLength(Int)
    case chunked
}

/// The request line and headers.
public struct HTTPRequestHead: Equatable, Sendable {
    public var method: String
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var headers: HTTPHeaders
    public var framing: BodyFraming
    public var keepAlive: Bool
    public var expectsContinue: Bool
}

/// Parses request heads. Pure: bytes in, a head (and how many bytes it used) or an error out.
public enum HTTPHeadParser {
    public enum Result: Equatable {
        case needMore
        case complete(HTTPRequestHead, headLength: Int)
        case failed(HTTPParseError)
    }

    /// Parses the head at the start of `bytes`.
    public static func parse(_ bytes: ArraySlice<UInt8>, limits: HTTPLimits) -> Result {
        guard let end = findHeadEnd(bytes, limit: limits.maxHeaderBytes) else {
            if bytes.count > limits.maxHeaderBytes {
                // Distinguish an endless request line from endless headers.
                if !bytes.prefix(limits.maxTargetBytes + 32).contains(UInt8(ascii: "\n")) {
                    return .failed(HTTPParseError(414, "request line longer than \(limits.maxTargetBytes) bytes"))
                }
                return .failed(HTTPParseError(431, "request headers larger than \(limits.maxHeaderBytes) bytes"))
            }
            return .needMore
        }
        let head = bytes[bytes.startIndex..<bytes.startIndex + end]
        do throws(HTTPParseError) {
            return .complete(try parseHead(head, limits: limits), headLength: end + 4)
        } catch {
            return .failed(error)
        }
    }

    /// Offset of "\r\n\r\n" relative to the slice start, searching at most `limit + 4` bytes.
    static func findHeadEnd(_ bytes: ArraySlice<UInt8>, limit: Int) -> Int? {
        let count = min(bytes.count, limit + 4)
        guard count >= 4 else { return nil }
        let base = bytes.startIndex
        var i = 0
        while i + 3 < count {
            if bytes[base + i + 3] != 0x0A { i += 1; continue }
            if bytes[base + i] == 0x0D, bytes[base + i + 1] == 0x0A, bytes[base + i + 2] == 0x0D { return i }
            i += 1
        }
        return nil
    }

    static func parseHead(_ head: ArraySlice<UInt8>, limits: HTTPLimits) throws(HTTPParseError) -> HTTPRequestHead {
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        var i = head.startIndex
        while i < head.endIndex {
            if head[i] == 0x0A {
                guard i > lineStart, head[i - 1] == 0x0D else { throw HTTPParseError(400, "bare LF in request head") }
                lines.append(head[lineStart..<(i - 1)])
                lineStart = i + 1
            }
            i += 1
        }
        lines.append(head[lineStart..<head.endIndex])
        guard let requestLine = lines.first, !requestLine.isEmpty else { throw HTTPParseError(400, "empty request line") }
        let parts = requestLine.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw HTTPParseError(400, "malformed request line") }
        let method = parts[0]
        guard !method.isEmpty, method.count <= 32, method.allSatisfy(isTokenByte) else { throw HTTPParseError(400, "invalid method") }
        let target = parts[1]
        guard target.count <= limits.maxTargetBytes else { throw HTTPParseError(414, "request target longer than \(limits.maxTargetBytes) bytes") }
        guard target.first == UInt8(ascii: "/"), target.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw HTTPParseError(400, "invalid request target")
        }
        let minor: Int
        switch String(decoding: parts[2], as: UTF8.self) {
        case "HTTP/1.1": minor = 1
        case "HTTP/1.0": minor = 0
        default:
            if parts[2].starts(with: Array("HTTP/".utf8)) { throw HTTPParseError(505, "only HTTP/1.0 and HTTP/1.1 are supported") }
            throw HTTPParseError(400, "malformed HTTP version")
        }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() {
            guard headers.fields.count < limits.maxHeaderCount else {
                throw HTTPParseError(431, "more than \(limits.maxHeaderCount) header fields")
            }
            guard let first = line.first else { throw HTTPParseError(400, "empty header line") }
            if first == 0x20 || first == 0x09 { throw HTTPParseError(400, "obsolete header line folding") }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw HTTPParseError(400, "header line without ':'") }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw HTTPParseError(400, "invalid header name") }
            var value = line[(colon + 1)...]
            while let f = value.first, f == 0x20 || f == 0x09 { value = value.dropFirst() }
            while let l = value.last, l == 0x20 || l == 0x09 { value = value.dropLast() }
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else {
                throw HTTPParseError(400, "invalid character in header value")
            }
            headers.add(String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
        }
        if minor == 1, headers["host"] == nil { throw HTTPParseError(400, "missing Host header") }

        let framing: BodyFraming
        let transferEncodings = headers.values("transfer-encoding")
        let lengths = headers.values("content-length")
        if !transferEncodings.isEmpty {
            // Both framings at once is how request smuggling starts: refuse it.
            guard lengths.isEmpty else { throw HTTPParseError(400, "both Transfer-Encoding and Content-Length") }
            let codings = transferEncodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: " \t").lowercased() }
            guard codings == ["chunked"] else { throw HTTPParseError(501, "unsupported transfer coding \(transferEncodings.joined(separator: ", "))") }
            framing = .chunked
        } else if !lengths.isEmpty {
            let distinct = Set(lengths.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: " \t") })
            guard distinct.count == 1, let text = distinct.first, !text.isEmpty, text.count <= 18,
                  text.allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(text) else {
                throw HTTPParseError(400, "invalid Content-Length")
            }
            guard length <= limits.maxBodyBytes else { throw HTTPParseError(413, "request body larger than \(limits.maxBodyBytes) bytes") }
            framing = length == 0 ? .none : .contentLength(length)
        } else {
            framing = .none
        }
        let connection = headers.values("connection").flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: " \t").lowercased() }
        let keepAlive = minor == 1 ? !connection.contains("close") : connection.contains("keep-alive")
        let expectsContinue = headers["expect"]?.lowercased() == "100-continue"
        return HTTPRequestHead(method: String(decoding: method, as: UTF8.self), target: String(decoding: target, as: UTF8.self),
                               minorVersion: minor, headers: headers, framing: framing, keepAlive: keepAlive,
                               expectsContinue: expectsContinue)
    }

    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(b)
        }
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}

/// Decodes a chunked body incrementally; bytes may arrive in any split.
public struct ChunkedDecoder: Sendable {
    enum State: Equatable, Sendable {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailer
        case done
    }

    public let maxBodyBytes: Int
    public private(set) var body: [UInt8] = []
    var state: State = .size
    private var trailerBytes = 0
    /// Bytes decoded so far, including those already taken out with `takeBody()`.
    private var total = 0

    public init(maxBodyBytes: Int) {
        self.maxBodyBytes = maxBodyBytes
    }

    public var isComplete: Bool { state == .done }

    /// The data decoded since the last call (streaming use keeps memory bounded this way).
    public mutating func takeBody() -> [UInt8] {
        defer { body = [] }
        return body
    }

    /// Consumes what it can of `bytes`; returns how many bytes it used.
    public mutating func feed(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        var i = bytes.startIndex
        while i < bytes.endIndex, state != .done {
            switch state {
            case .size:
                guard let lf = bytes[i...].prefix(1024).firstIndex(of: 0x0A) else {
                    if bytes.endIndex - i >= 1024 { throw HTTPParseError(400, "chunk size line too long") }
                    return i - bytes.startIndex
                }
                guard lf > i, bytes[lf - 1] == 0x0D else { throw HTTPParseError(400, "chunk size line without CRLF") }
                var line = bytes[i..<(lf - 1)]
                if let semi = line.firstIndex(of: UInt8(ascii: ";")) { line = line[line.startIndex..<semi] } // extensions ignored
                let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: " \t")
                guard !text.isEmpty, text.count <= 8, let size = Int(text, radix: 16), size >= 0 else {
                    throw HTTPParseError(400, "invalid chunk size")
                }
                guard total + size <= maxBodyBytes else { throw HTTPParseError(413, "request body larger than \(maxBodyBytes) bytes") }
                total += size
                i = lf + 1
                state = size == 0 ? .trailer : .data(remaining: size)
            case .data(let remaining):
                let take = min(remaining, bytes.endIndex - i)
                body.append(contentsOf: bytes[i..<(i + take)])
                i += take
                state = remaining - take == 0 ? .dataEnd : .data(remaining: remaining - take)
            case .dataEnd:
                guard bytes.endIndex - i >= 2 else { return i - bytes.startIndex }
                guard bytes[i] == 0x0D, bytes[i + 1] == 0x0A else { throw HTTPParseError(400, "chunk data not followed by CRLF") }
                i += 2
                state = .size
            case .trailer:
                guard let lf = bytes[i...].firstIndex(of: 0x0A) else {
                    if trailerBytes + (bytes.endIndex - i) > 8192 { throw HTTPParseError(431, "chunked trailer too large") }
                    return i - bytes.startIndex
                }
                guard lf > i, bytes[lf - 1] == 0x0D else { throw HTTPParseError(400, "trailer line without CRLF") }
                trailerBytes += lf - i + 1
                if trailerBytes > 8192 { throw HTTPParseError(431, "chunked trailer too large") }
                let empty = lf - 1 == i
                i = lf + 1
                if empty { state = .done }
            case .done:
                break
            }
        }
        return i - bytes.startIndex
    }
}
