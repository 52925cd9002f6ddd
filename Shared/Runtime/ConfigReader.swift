import Foundation

/// Reads typed settings from `CDP_*` environment variables and `--flag value` / `--flag=value`
/// arguments (a flag wins over the environment). Problems are collected, not thrown one at a
/// time, so a user sees every bad value at once; `finish()` reports them and unknown flags.
///
///     var reader = ConfigReader()
///     let port = reader.int(env: "CDP_PORT", flag: "--port", default: 8080, range: 1...65535)
///     try reader.finish()
public struct ConfigReader: Sendable {
    public private(set) var problems: [String] = []
    private let environment: [String: String]
    private var flags: [String: String] = [:]
    private var switches: Set<String> = []
    private var consumed: Set<String> = []
    public private(set) var positional: [String] = []

    /// `arguments` excludes the program name. Flags without a value (`--verbose`) are switches;
    /// a value is taken from the next argument when it does not start with `--`.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                arguments: [String] = Array(CommandLine.arguments.dropFirst())) {
        self.environment = environment
        var i = 0
        while i < arguments.count {
            let arg = arguments[i]
            if arg == "--" {
                positional.append(contentsOf: arguments[(i + 1)...])
                break
            }
            if arg.hasPrefix("--") {
                if let eq = arg.firstIndex(of: "=") {
                    flags[String(arg[..<eq])] = String(arg[arg.index(after: eq)...])
                } else if i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                    flags[arg] = arguments[i + 1]
                    i += 1
                } else {
                    switches.insert(arg)
                }
            } else {
                positional.append(arg)
            }
            i += 1
        }
    }

    private mutating func raw(env: String?, flag: String?) -> (value: String, source: String)? {
        if let flag {
            consumed.insert(flag)
            if let v = flags[flag] { return (v, flag) }
            if switches.contains(flag) {
                problems.append("\(flag) needs a value")
                return nil
            }
        }
        if let env, let v = environment[env], !v.isEmpty { return (v, env) }
        return nil
    }

    public mutating func string(env: String? = nil, flag: String? = nil, default value: String) -> String {
        raw(env: env, flag: flag)?.value ?? value
    }

    public mutating func optionalString(env: String? = nil, flag: String? = nil) -> String? {
        raw(env: env, flag: flag)?.value
    }

    /// An absolute directory path without `..` (trailing slashes dropped), or nil when not set.
    public mutating func directory(env: String? = nil, flag: String? = nil) -> String? {
        guard let (text, source) = raw(env: env, flag: flag) else { return nil }
        guard text.hasPrefix("/"), !text.split(separator: "/").contains("..") else {
            problems.append("\(source)=\(text): must be an absolute directory path without '..'")
            return nil
        }
        var path = text
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path
    }

    public mutating func int(env: String? = nil, flag: String? = nil, default value: Int,
                             range: ClosedRange<Int> = Int.min...Int.max) -> Int {
        guard let (text, source) = raw(env: env, flag: flag) else { return value }
        guard let parsed = Int(text.trimmingCharacters(in: .whitespaces)) else {
            problems.append("\(source)=\(text): not an integer")
            return value
        }
        guard range.contains(parsed) else {
            problems.append("\(source)=\(text): must be between \(range.lowerBound) and \(range.upperBound)")
            return value
        }
        return parsed
    }

    public mutating func bool(env: String? = nil, flag: String? = nil, default value: Bool) -> Bool {
        if let flag {
            consumed.insert(flag)
            if switches.contains(flag) { return true }
        }
        guard let (text, source) = raw(env: env, flag: flag) else { return value }
        switch text.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default:
            problems.append("\(source)=\(text): expected true or false")
            return value
        }
    }

    /// One of a fixed set of words (a `RawRepresentable` enum), e.g. `compact` or `decoded`.
    public mutating func choice<T: RawRepresentable & CaseIterable>(env: String? = nil, flag: String? = nil, default value: T) -> T where T.RawValue == String {
        guard let (text, source) = raw(env: env, flag: flag) else { return value }
        if let parsed = T(rawValue: text.trimmingCharacters(in: .whitespaces).lowercased()) { return parsed }
        problems.append("\(source)=\(text): expected one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        return value
    }

    /// A duration such as `250ms`, `5s`, `2m`, `1h` (a bare number means seconds).
    public mutating func duration(env: String? = nil, flag: String? = nil, default value: Duration) -> Duration {
        guard let (text, source) = raw(env: env, flag: flag) else { return value }
        guard let parsed = Self.parseDuration(text) else {
            problems.append("\(source)=\(text): expected a duration like 500ms, 5s, 2m or 1h")
            return value
        }
        return parsed
    }

    /// A listen address `host:port` or `:port` (all interfaces).
    public mutating func listenAddress(env: String? = nil, flag: String? = nil, default value: String) -> ListenAddress {
        let (text, source) = raw(env: env, flag: flag) ?? (value, "default")
        if let parsed = ListenAddress(text) { return parsed }
        problems.append("\(source)=\(text): expected HOST:PORT or :PORT with a port from 0 to 65535")
        return ListenAddress(value) ?? ListenAddress(host: "0.0.0.0", port: 0)
    }

    public mutating func logLevel(env: String? = "CDP_LOG_LEVEL", flag: String? = "--log-level", default value: LogLevel = .info) -> LogLevel {
        guard let (text, source) = raw(env: env, flag: flag) else { return value }
        guard let level = LogLevel(name: text) else {
            problems.append("\(source)=\(text): expected debug, info, warning or error")
            return value
        }
        return level
    }

    /// Records a problem found by the caller's own validation.
    public mutating func problem(_ message: String) { problems.append(message) }

    /// Kafka client settings from `CDP_KAFKA_*` variables (see `KafkaSettings`); bad ones are
    /// problems.
    public mutating func kafkaSettings() -> [String: String] {
        let (settings, found) = KafkaSettings.read(from: environment)
        problems += found
        return settings
    }

    /// Throws when any value was bad or a flag is unknown.
    public func finish() throws {
        var all = problems
        let unknown = Set(flags.keys).union(switches).subtracting(consumed).subtracting(["--help", "-h"])
        for flag in unknown.sorted() { all.append("unknown flag \(flag)") }
        if !all.isEmpty { throw ConfigError(problems: all) }
    }

    public var wantsHelp: Bool { switches.contains("--help") || positional.contains("-h") }

    public static func parseDuration(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count)
            // "ms" must not be read as minutes of "m" with trailing "s".
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let v = Double(number), v >= 0, v.isFinite else { return nil }
            return .milliseconds(Int64((v * scale * 1000).rounded()))
        }
        guard let v = Double(t), v >= 0, v.isFinite else { return nil }
        return .milliseconds(Int64((v * 1000).rounded()))
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let problems: [String]
    public var description: String { "invalid configuration:\n" + problems.map { "  - \($0)" }.joined(separator: "\n") }
}

/// Where a server listens.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}

/// Exit codes from sysexits.h.
public enum ExitCode {
    public static let usage: Int32 = 64
    public static let dataError: Int32 = 65
    public static let unavailable: Int32 = 69
    public static let software: Int32 = 70
    public static let config: Int32 = 78
}

/// Prints `error` to stderr and exits with 78 (EX_CONFIG).
public func exitWithConfigError(_ error: Error, program: String) -> Never {
    FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
    exit(ExitCode.config)
}
