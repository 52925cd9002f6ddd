import Foundation
import QL
import Runtime

/// The audience-builder form of an audience, compiled to FilterQL:
///
///     {"op": "and", "rulesets": [
///        {"op": "or", "include": true, "rules": [
///           {"kind": "field", "field": "country", "operator": "in", "values": ["US", "CA"]},
///           {"kind": "audience", "slug": "vip", "include": false}]}]}
///
/// Rulesets combine with the tree's `op`; rules inside a ruleset with the ruleset's `op`;
/// `include: false` negates a rule or a whole ruleset.
public enum RuleTree {
    public static let operators: Set<String> = ["==", "!=", ">", ">=", "<", "<=", "in", "intersects", "contains", "like", "exists", "between"]

    public static func filterQL(_ tree: JSONValue) throws(AudienceError) -> String {
        guard case .object(let o) = tree, let rulesets = o["rulesets"]?.arrayValue, !rulesets.isEmpty else {
            throw AudienceError("a rule tree needs a non-empty \"rulesets\" list")
        }
        let op = try combinator(o["op"], at: "the tree")
        var parts: [String] = []
        for (i, rs) in rulesets.enumerated() {
            guard let rules = rs["rules"]?.arrayValue, !rules.isEmpty else { throw AudienceError("rulesets[\(i)] needs a non-empty \"rules\" list") }
            let inner = try combinator(rs["op"], at: "rulesets[\(i)]")
            var conditions: [String] = []
            for (j, rule) in rules.enumerated() { conditions.append(try condition(rule, at: "rulesets[\(i)].rules[\(j)]")) }
            var block = conditions.count == 1 ? conditions[0] : "\(inner)(\(conditions.joined(separator: ", ")))"
            if rs["include"]?.boolValue == false { block = "NOT (\(block))" }
            parts.append(block)
        }
        return "FILTER " + (parts.count == 1 ? parts[0] : "\(op)(\(parts.joined(separator: ", ")))")
    }

    static func combinator(_ v: JSONValue?, at place: String) throws(AudienceError) -> String {
        switch v?.stringValue?.lowercased() ?? "and" {
        case "and": return "AND"
        case "or": return "OR"
        default: throw AudienceError("\(place): op must be and or or")
        }
    }

    static func condition(_ rule: JSONValue, at place: String) throws(AudienceError) -> String {
        let text: String
        switch rule["kind"]?.stringValue {
        case "audience":
            guard let slug = rule["slug"]?.stringValue, !slug.isEmpty else { throw AudienceError("\(place): an audience rule needs \"slug\"") }
            text = "INCLUDE " + identifier(slug)
        case "field":
            guard let field = rule["field"]?.stringValue, !field.isEmpty else { throw AudienceError("\(place): a field rule needs \"field\"") }
            guard let op = rule["operator"]?.stringValue?.lowercased(), operators.contains(op) else {
                throw AudienceError("\(place): operator must be one of \(operators.sorted().joined(separator: ", "))")
            }
            let values = rule["values"]?.arrayValue ?? (rule["value"].map { [$0] } ?? [])
            let f = identifier(field)
            switch op {
            case "exists": text = "EXISTS \(f)"
            case "in", "intersects":
                guard !values.isEmpty else { throw AudienceError("\(place): \(op) needs values") }
                text = "\(f) \(op.uppercased()) (\(try values.map { v throws(AudienceError) in try literal(v, at: place) }.joined(separator: ", ")))"
            case "between":
                guard values.count == 2 else { throw AudienceError("\(place): between needs two values") }
                text = "\(f) BETWEEN \(try literal(values[0], at: place)) AND \(try literal(values[1], at: place))"
            default:
                guard values.count == 1 else { throw AudienceError("\(place): \(op) needs exactly one value") }
                let keyword = ["contains": "CONTAINS", "like": "LIKE"][op] ?? op
                text = "\(f) \(keyword) \(try literal(values[0], at: place))"
            }
        default:
            throw AudienceError("\(place): kind must be field or audience")
        }
        return rule["include"]?.boolValue == false ? "NOT (\(text))" : text
    }

    /// A field name quoted with back-ticks when it is not a plain identifier.
    static func identifier(_ name: String) -> String {
        let plain = name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" || $0 == ".") }
            && !(name.first?.isNumber ?? true)
        return plain ? name : "`" + name.replacingOccurrences(of: "`", with: "``") + "`"
    }

    static func literal(_ v: JSONValue, at place: String) throws(AudienceError) -> String {
        switch v {
        case .string(let s): return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return b ? "true" : "false"
        default: throw AudienceError("\(place): values must be strings, numbers or booleans")
        }
    }
}
