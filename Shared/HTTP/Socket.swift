import Foundation

/// Errors from socket system calls, with the call's name and errno.
public struct SocketError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let errno: Int32
    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Thin wrappers over the socket calls used by the HTTP server and the dev broker's port
/// forwarder. Every raw call goes through here and turns errno into a thrown `SocketError`.
public enum Socket {
    /// A listening TCP socket bound to `host:port` (port 0 picks a free port).
    public static func listen(host: String, port: Int, backlog: Int32 = 1024) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(call: "socket", errno: errno) }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let resolved = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, resolved, &addr.sin_addr) == 1 else {
            close(fd)
            throw SocketError(call: "inet_pton(\(host))", errno: EINVAL)
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let e = errno
            close(fd)
            throw SocketError(call: "bind(\(host):\(port))", errno: e)
        }
        guard Foundation.listen(fd, backlog) == 0 else {
            let e = errno
            close(fd)
            throw SocketError(call: "listen", errno: e)
        }
        return fd
    }

    /// The local port a socket is bound to.
    public static func localPort(_ fd: Int32) -> Int {
        var addr = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// Accepts one connection; nil when the listening socket was closed or shut down.
    public static func accept(_ fd: Int32) throws -> Int32? {
        while true {
            let client = Foundation.accept(fd, nil, nil)
            if client >= 0 { return client }
            switch errno {
            case EINTR, ECONNABORTED, EPROTO: continue
            case EBADF, EINVAL: return nil
            case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                // Out of descriptors: back off briefly instead of spinning.
                usleep(10_000)
                continue
            default: throw SocketError(call: "accept", errno: errno)
            }
        }
    }

    /// A TCP connection to `host:port`.
    public static func connect(host: String, port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SocketError(call: "socket", errno: errno) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            close(fd)
            throw SocketError(call: "inet_pton(\(host))", errno: EINVAL)
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw SocketError(call: "connect(\(host):\(port))", errno: e)
        }
        return fd
    }

    /// Sets the receive timeout: a blocked `read` returns EAGAIN after it.
    public static func setReceiveTimeout(_ fd: Int32, milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sets the send timeout: a blocked `write` to a client that stopped reading gives up after it.
    public static func setSendTimeout(_ fd: Int32, milliseconds: Int) {
        var tv = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public static func setNoDelay(_ fd: Int32) {
        var yes: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
    }

    public enum ReadResult: Equatable {
        case data(Int)
        case closed
        case timedOut
        case failed(Int32)
    }

    /// Reads into `buffer`; retries on EINTR.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 { return .data(n) }
            if n == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .timedOut
            default: return .failed(errno)
            }
        }
    }

    /// Writes all of `bytes`; false when the peer went away or the send timeout passed.
    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n > 0 {
                offset += n
            } else if n < 0, errno == EINTR {
                continue
            } else {
                return false
            }
        }
        return true
    }

    @discardableResult
    public static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { writeAll(fd, $0) }
    }

    /// Stops further reads and writes (wakes a thread blocked in `read`).
    public static func shutdown(_ fd: Int32) {
        _ = Foundation.shutdown(fd, Int32(SHUT_RDWR))
    }

    /// Whether bytes are waiting to be read (without consuming them or blocking).
    public static func hasPendingInput(_ fd: Int32) -> Bool {
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK) | Int32(MSG_DONTWAIT)) > 0
    }

    /// Half-closes: the peer reads end-of-stream, this side can still read.
    public static func shutdownWrite(_ fd: Int32) {
        _ = Foundation.shutdown(fd, Int32(SHUT_WR))
    }

    public static func close(_ fd: Int32) {
        _ = Foundation.close(fd)
    }
}
