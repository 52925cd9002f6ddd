import Model
import Runtime

extension QLValue {
    /// A JSON value as a record value: integers → int, numbers with a fraction → number,
    /// `{"$time": "RFC3339"}` → time, arrays of strings → strings, other arrays → list,
    /// objects → map, null → NULL.
    public init?(json: JSONValue) {
        switch json {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .number(d)
        case .string(let s): self = .string(s)
        case .array(let items):
            if items.allSatisfy({ $0.stringValue != nil }) {
                self = .strings(items.compactMap(\.stringValue))
            } else {
                var out: [QLValue] = []
                for item in items {
                    guard let v = QLValue(json: item) else { return nil }
                    out.append(v)
                }
                self = .list(out)
            }
        case .object(let o):
            if o.count == 1, let text = o["$time"]?.stringValue {
                guard let t = RFC3339.parseMs(text) ?? DateMath.parseDate(text) else { return nil }
                self = .time(t)
                return
            }
            var out: [String: QLValue] = [:]
            for (k, v) in o {
                guard let value = QLValue(json: v) else { return nil }
                out[k] = value
            }
            self = .map(out)
        }
    }

    /// Appends the bytes `json.serializedBytes()` would give (times as RFC 3339 strings),
    /// without building the JSON tree.
    public func writeJSON(to out: inout [UInt8]) {
        ByteWriter.append(to: &out) { writeJSON(to: &$0) }
    }

    /// Writes the bytes `json.serializedBytes()` would give, without building the JSON tree.
    public func writeJSON(to w: inout ByteWriter) {
        switch self {
        case .int(let i): w.int(i)
        case .number(let d):
            if d.isFinite { w.double(d) } else { w.bytes("null") }
        case .bool(let b): w.bytes(b ? "true" : "false")
        case .string(let s): w.quoted(s)
        case .time(let t): w.quotedTime(epochMs: t)
        case .strings(let a):
            w.byte(0x5B)
            for i in a.indices {
                if i > 0 { w.byte(0x2C) }
                w.quoted(a[i])
            }
            w.byte(0x5D)
        case .list(let a):
            w.byte(0x5B)
            for i in a.indices {
                if i > 0 { w.byte(0x2C) }
                a[i].writeJSON(to: &w)
            }
            w.byte(0x5D)
        case .map(let m):
            w.byte(0x7B)
            // Keys in order, through positions sorted in a temporary buffer (on the stack when
            // small): no array of entries per map per write.
            if !m.isEmpty { withUnsafeTemporaryAllocation(of: Dictionary<String, QLValue>.Index.self, capacity: m.count) { order in
                var n = 0
                for i in m.indices {
                    (order.baseAddress! + n).initialize(to: i)
                    n += 1
                }
                if n > 1 { order[0..<n].sort { m.keys[$0] < m.keys[$1] } }
                for k in 0..<n {
                    if k > 0 { w.byte(0x2C) }
                    w.quoted(m.keys[order[k]])
                    w.byte(0x3A)
                    m.values[order[k]].writeJSON(to: &w)
                }
                _ = order.baseAddress!.deinitialize(count: n)
            } }
            w.byte(0x7D)
        case .null: w.bytes("null")
        }
    }

    public var json: JSONValue {
        switch self {
        case .int(let i): .int(i)
        case .number(let d): d.isFinite ? .double(d) : .null
        case .bool(let b): .bool(b)
        case .string(let s): .string(s)
        case .time(let t): .string(Timestamp.rfc3339Millis(epochMs: t))
        case .strings(let a): .array(a.map(JSONValue.string))
        case .list(let a): .array(a.map(\.json))
        case .map(let m): .object(m.mapValues(\.json))
        case .null: .null
        }
    }
}

/// One `cdp ql eval` case: a JSON line in, a JSON line out.
public enum QLEvalCase {
    public static func run(_ line: String, defaultNowMs: Int64) -> JSONValue {
        let input: JSONValue
        do {
            input = try JSONParser().parse(line)
        } catch {
            return ["error": .string("input line is not JSON: \(error)")]
        }
        guard let expr = input["expr"]?.stringValue else { return ["error": "each line needs \"expr\" (a string)"] }
        var fields: [String: QLValue] = [:]
        if let data = input["data"] {
            guard case .object(let o) = data else { return ["error": "\"data\" must be an object"] }
            for (k, v) in o {
                guard let value = QLValue(json: v) else { return ["error": .string("field \(k): unsupported value (a $time that does not parse?)")] }
                fields[k] = value
            }
        }
        var now = defaultNowMs
        if let text = input["now"]?.stringValue {
            guard let t = RFC3339.parseMs(text) else { return ["error": "\"now\" must be RFC 3339"] }
            now = t
        }
        var messageTime: Int64?
        if let text = input["ts"]?.stringValue {
            guard let t = RFC3339.parseMs(text) else { return ["error": "\"ts\" must be RFC 3339"] }
            messageTime = t
        }
        var includes: [String: FilterStatement] = [:]
        if case .object(let o)? = input["includes"] {
            for (name, text) in o {
                guard let source = text.stringValue else { return ["error": .string("include \(name) must be a FILTER string")] }
                do throws(QLError) {
                    includes[name.lowercased()] = try QLParser.parseFilter(source)
                } catch {
                    return ["error": .string("include \(name): \(error)")]
                }
            }
        }
        let frozen = includes
        let context = QLContext(fields: fields, messageTimeMs: messageTime, nowMs: now, includes: { frozen[$0] })
        let statement: QLStatement
        do throws(QLError) {
            statement = try QLParser.parse(expr)
        } catch {
            return ["error": .string(error.description)]
        }
        switch statement {
        case .filter(let f):
            var out: [String: JSONValue] = ["match": .bool(QLEvaluator.matches(f, context))]
            if let flip = NextFlip.compute(f, context) { out["next_flip"] = .string(Timestamp.rfc3339Millis(epochMs: flip)) }
            return .object(out)
        case .select(let s):
            return ["row": QLEvaluator.select(s, context).map { .object($0.mapValues(\.json)) } ?? .null]
        case .expression(let e):
            guard let v = QLEvaluator.evaluate(e, context) else { return ["ok": false, "value": .null, "type": "nil"] }
            var out: [String: JSONValue] = ["ok": true, "value": v.json, "type": .string(v.typeName)]
            if let flip = NextFlip.compute(e, context) { out["next_flip"] = .string(Timestamp.rfc3339Millis(epochMs: flip)) }
            return .object(out)
        }
    }
}
