import Runtime

/// Why an export job definition was refused (the message names the field).
public struct JobError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An export job (config kind `job`; Lytics calls it "work"): which audiences to deliver, what
/// to send about each user, when, and where.
public struct ExportJob: Sendable, Equatable {
    public enum Kind: String, Sendable { case webhook, file }

    public enum Destination: Sendable, Equatable {
        case webhook(url: String, secret: String?, headers: [String: String])
        case file(dir: String, format: FileFormat)
    }

    public enum FileFormat: String, Sendable { case csv, ndjson }

    public var id: String
    public var account: String
    public var name: String
    public var kind: Kind
    /// Audience slugs whose enters and exits are delivered.
    public var segments: [String]
    /// Profile fields sent with each event (identities are always sent).
    public var fields: [String]
    /// When one of these changes for a member, an `update` is delivered.
    public var triggerFields: [String]
    /// Deliver every current member when the job starts (and on restart).
    public var existingUsers: Bool
    /// Keep delivering changes after the first sync.
    public var keepUpdated: Bool
    /// Members of this audience are never delivered (consent); entering it means an exit.
    public var excludeSegment: String?
    public var maxUsers: Int
    public var maxWaitMs: Int64
    public var destination: Destination
    public var alertURL: String?
    public var paused: Bool
    /// Bumped by `restart`: delivery starts again with every current member.
    public var generation: Int64
    /// How long a failing batch is retried before it goes to the dead-letter list.
    public var retryBudgetMs: Int64

    public static let maxTriggerFields = 75
    public static let maxFields = 200
    public static let maxSegments = 100
    public static let maxBatchUsers = 10_000
    public static let maxHeaders = 20

    /// Parses and checks a job document body. Audience and field existence are checked by the
    /// caller, which knows the account (see `unknownNames`).
    /// Reads a job document; its destination and alert URL must also be allowed by `policy`
    /// (the deployment's `DestinationPolicy`).
    public static func parse(_ body: [String: JSONValue], id: String, account: String, policy: DestinationPolicy = DestinationPolicy()) throws(JobError) -> ExportJob {
        guard let type = body["type"]?.stringValue, let kind = Kind(rawValue: type) else {
            throw JobError("\"type\" must be \"webhook\" or \"file\"")
        }
        guard let name = body["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 256 else {
            throw JobError("\"name\" is required (1 to 256 bytes)")
        }
        let segments = try strings(body, "segments", max: maxSegments)
        guard !segments.isEmpty else { throw JobError("\"segments\" must name at least one audience") }
        let fields = try strings(body, "fields", max: maxFields)
        let triggers = try strings(body, "trigger_fields", max: maxTriggerFields)
        let existing = try bool(body, "existing_users", default: true)
        let keepUpdated = try bool(body, "keep_updated", default: true)
        let paused = try bool(body, "paused", default: false)
        var exclude: String?
        switch body["exclude_segment"] {
        case nil, .null?: exclude = nil
        case .string(let s)? where !s.isEmpty: exclude = s.lowercased()
        default: throw JobError("\"exclude_segment\" must be an audience slug")
        }
        if let exclude, segments.contains(exclude) { throw JobError("\"exclude_segment\" '\(exclude)' is also one of \"segments\"") }
        var maxUsers = 1000
        var maxWaitMs: Int64 = kind == .file ? 300_000 : 0
        if let batch = body["batch"], batch != .null {
            guard case .object(let b) = batch else { throw JobError("\"batch\" must be an object {\"max_users\", \"max_wait_s\"}") }
            for key in b.keys where key != "max_users" && key != "max_wait_s" { throw JobError("\"batch\" has unknown setting \"\(key)\"") }
            if let v = b["max_users"] {
                guard let n = v.intValue, (1...Int64(maxBatchUsers)).contains(n) else { throw JobError("\"batch.max_users\" must be 1 to \(maxBatchUsers)") }
                maxUsers = Int(n)
            }
            if let v = b["max_wait_s"] {
                guard let s = v.doubleValue, s >= 0, s <= 86_400 else { throw JobError("\"batch.max_wait_s\" must be 0 to 86400 seconds") }
                maxWaitMs = Int64(s * 1000)
            }
        }
        guard case .object(let d)? = body["destination"] else { throw JobError("\"destination\" must be an object") }
        let destination: Destination
        switch kind {
        case .webhook:
            guard let url = d["url"]?.stringValue, isHTTPURL(url) else { throw JobError("\"destination.url\" must be an http(s) URL") }
            if let problem = policy.urlProblem(url, "\"destination.url\"") { throw JobError(problem) }
            var secret: String?
            switch d["secret"] {
            case nil, .null?: secret = nil
            case .string(let s)? where (16...512).contains(s.utf8.count): secret = s
            default: throw JobError("\"destination.secret\" must be a string of 16 to 512 bytes")
            }
            var headers: [String: String] = [:]
            if let h = d["headers"], h != .null {
                guard case .object(let o) = h, o.count <= maxHeaders else { throw JobError("\"destination.headers\" must be an object of at most \(maxHeaders) strings") }
                for (k, v) in o {
                    guard let value = v.stringValue, isToken(k), !value.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
                        throw JobError("\"destination.headers.\(k)\" must be a header name with a single-line string value")
                    }
                    let lower = k.lowercased()
                    if lower.hasPrefix("x-cdp-") || ["content-type", "content-length", "host", "transfer-encoding"].contains(lower) {
                        throw JobError("\"destination.headers.\(k)\" is set by the exporter")
                    }
                    headers[k] = value
                }
            }
            destination = .webhook(url: url, secret: secret, headers: headers)
        case .file:
            guard let dir = d["dir"]?.stringValue, dir.hasPrefix("/"), dir.utf8.count <= 1024, !dir.split(separator: "/").contains("..") else {
                throw JobError("\"destination.dir\" must be an absolute directory path without '..'")
            }
            if let problem = policy.directoryProblem(dir, account: account) { throw JobError(problem) }
            let format = d["format"]?.stringValue ?? "csv"
            guard let f = FileFormat(rawValue: format) else { throw JobError("\"destination.format\" must be \"csv\" or \"ndjson\"") }
            destination = .file(dir: dir, format: f)
        }
        var alert: String?
        switch body["alert_url"] {
        case nil, .null?: alert = nil
        case .string(let s)? where isHTTPURL(s):
            if let problem = policy.urlProblem(s, "\"alert_url\"") { throw JobError(problem) }
            alert = s
        default: throw JobError("\"alert_url\" must be an http(s) URL")
        }
        var generation: Int64 = 1
        if let g = body["generation"], g != .null {
            guard let n = g.intValue, n >= 1 else { throw JobError("\"generation\" must be a positive integer") }
            generation = n
        }
        var budget: Int64 = 4 * 3_600_000
        if let b = body["retry_budget_s"], b != .null {
            guard let s = b.doubleValue, s >= 0, s <= 7 * 86_400 else { throw JobError("\"retry_budget_s\" must be 0 to 604800 seconds") }
            budget = Int64(s * 1000)
        }
        return ExportJob(id: id, account: account, name: name, kind: kind, segments: segments.map { $0.lowercased() }, fields: fields,
                         triggerFields: triggers, existingUsers: existing, keepUpdated: keepUpdated, excludeSegment: exclude,
                         maxUsers: maxUsers, maxWaitMs: maxWaitMs, destination: destination, alertURL: alert, paused: paused,
                         generation: generation, retryBudgetMs: budget)
    }

    /// Audiences and fields the job names that the account does not have.
    public func unknownNames(audiences: Set<String>, fields known: Set<String>?) -> [String] {
        var out: [String] = []
        for s in segments + (excludeSegment.map { [$0] } ?? []) where !audiences.contains(s) { out.append("audience '\(s)'") }
        if let known {
            for f in fields + triggerFields where !known.contains(f) { out.append("field '\(f)'") }
        }
        return out
    }

    static func strings(_ body: [String: JSONValue], _ key: String, max: Int) throws(JobError) -> [String] {
        guard let v = body[key], v != .null else { return [] }
        guard let a = v.arrayValue, a.count <= max else { throw JobError("\"\(key)\" must be an array of at most \(max) names") }
        var out: [String] = []
        for item in a {
            guard let s = item.stringValue, (1...128).contains(s.utf8.count) else { throw JobError("\"\(key)\" must hold names (1 to 128 bytes)") }
            if !out.contains(s) { out.append(s) }
        }
        return out
    }

    static func bool(_ body: [String: JSONValue], _ key: String, default value: Bool) throws(JobError) -> Bool {
        guard let v = body[key], v != .null else { return value }
        guard let b = v.boolValue else { throw JobError("\"\(key)\" must be true or false") }
        return b
    }

    static func isHTTPURL(_ s: String) -> Bool {
        guard s.utf8.count <= 2048, !s.contains(" ") else { return false }
        let lower = s.lowercased()
        for scheme in ["http://", "https://"] where lower.hasPrefix(scheme) {
            return lower.utf8.count > scheme.utf8.count && !lower.dropFirst(scheme.count).hasPrefix("/")
        }
        return false
    }

    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 128 && s.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b == 0x2d || b == 0x5f
        }
    }
}
