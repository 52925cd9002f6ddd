import Foundation
import Synchronization

/// Severity of a log line; `CDP_LOG_LEVEL` picks the lowest one written.
public enum LogLevel: Int, Comparable, Sendable, CaseIterable {
    case debug, info, warning, error

    public init?(name: String) {
        switch name.lowercased() {
        case "debug", "trace": self = .debug
        case "info": self = .info
        case "warn", "warning": self = .warning
        case "error": self = .error
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .debug: "debug"
        case .info: "info"
        case .warning: "warning"
        case .error: "error"
        }
    }

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where log lines go. The default writes to stderr; tests capture lines in memory.
public protocol LogSink: Sendable {
    func write(_ line: String)
}

public struct StderrSink: LogSink {
    private static let lock = Mutex(())
    public init() {}
    public func write(_ line: String) {
        // One write(2) per line under a lock so lines from several threads never interleave.
        let bytes = Array((line + "\n").utf8)
        Self.lock.withLock { _ in
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Foundation.write(2, raw.baseAddress! + offset, raw.count - offset)
                    if n <= 0 { break }
                    offset += n
                }
            }
        }
    }
}

/// Keeps log lines in memory (tests).
public final class MemorySink: LogSink {
    private let storage = Mutex<[String]>([])
    public init() {}
    public func write(_ line: String) { storage.withLock { $0.append(line) } }
    public var lines: [String] { storage.withLock { $0 } }
}

/// A structured logger writing one JSON object per line:
/// `{"ts":"2026-11-29T10:00:00.000Z","level":"info","logger":"collector","msg":"listening","addr":":8080"}`.
public struct Logger: Sendable {
    public let label: String
    public let level: LogLevel
    private let sink: any LogSink
    private let context: [(String, String)]

    public init(label: String, level: LogLevel = .info, sink: any LogSink = StderrSink()) {
        self.label = label
        self.level = level
        self.sink = sink
        self.context = []
    }

    private init(label: String, level: LogLevel, sink: any LogSink, context: [(String, String)]) {
        self.label = label
        self.level = level
        self.sink = sink
        self.context = context
    }

    /// A logger that adds `fields` to every line.
    public func with(_ fields: [String: String]) -> Logger {
        Logger(label: label, level: level, sink: sink, context: context + fields.sorted { $0.key < $1.key })
    }

    public func debug(_ message: @autoclosure () -> String, _ fields: [String: String] = [:]) {
        log(.debug, message(), fields)
    }
    public func info(_ message: @autoclosure () -> String, _ fields: [String: String] = [:]) {
        log(.info, message(), fields)
    }
    public func warning(_ message: @autoclosure () -> String, _ fields: [String: String] = [:]) {
        log(.warning, message(), fields)
    }
    public func error(_ message: @autoclosure () -> String, _ fields: [String: String] = [:]) {
        log(.error, message(), fields)
    }

    public func log(_ lineLevel: LogLevel, _ message: String, _ fields: [String: String] = [:]) {
        guard lineLevel >= level else { return }
        var line = "{\"ts\":\"\(Timestamp.rfc3339Millis(Date()))\",\"level\":\"\(lineLevel.name)\",\"logger\":"
        line += JSONText.quote(label)
        line += ",\"msg\":" + JSONText.quote(message)
        for (key, value) in context where fields[key] == nil {
            line += "," + JSONText.quote(key) + ":" + JSONText.quote(value)
        }
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += "," + JSONText.quote(key) + ":" + JSONText.quote(value)
        }
        line += "}"
        sink.write(line)
    }
}
