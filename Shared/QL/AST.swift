/// An expression tree, produced by the parser and evaluated against a record.
public indirect enum QLExpr: Sendable, Equatable {
    case literal(QLValue)
    /// A field reference: one part (`a.b` resolves the literal key first, then map `a` key `b`)
    /// or several quoted parts (`` `a.x`.`b.y` ``: map `a.x`, key `b.y`).
    case field([String])
    case call(String, [QLExpr])
    case list([QLExpr])
    case not(QLExpr)
    case negate(QLExpr)
    case compare(CompareOp, QLExpr, QLExpr)
    case arithmetic(ArithmeticOp, QLExpr, QLExpr)
    case and([QLExpr])
    case or([QLExpr])
    case like(QLExpr, QLExpr)
    case contains(QLExpr, QLExpr)
    case isIn(QLExpr, QLExpr)
    case intersects(QLExpr, QLExpr)
    /// Exclusive on both ends.
    case between(QLExpr, QLExpr, QLExpr)
    case exists(QLExpr)
    case include(String)
    case matchAll

    public enum CompareOp: String, Sendable { case eq = "==", ne = "!=", gt = ">", ge = ">=", lt = "<", le = "<=" }
    public enum ArithmeticOp: String, Sendable { case add = "+", sub = "-", mul = "*", div = "/", mod = "%" }
}

/// `FILTER body [FROM x] [LIMIT n] [WITH k=v, ...] [ALIAS name]`.
public struct FilterStatement: Sendable, Equatable {
    public var body: QLExpr
    public var from: String?
    public var limit: Int?
    public var with: [String: QLValue]
    public var alias: String?
    /// Comment lines before FILTER.
    public var description: String?
}

/// One column of a SELECT: `expr [AS f] [IF guard] [SHORTDESC s] [LONGDESC s] [KIND k] [MERGEOP op]`.
public struct SelectColumn: Sendable, Equatable {
    public var expr: QLExpr
    public var name: String
    public var guardExpr: QLExpr?
    public var shortDescription: String?
    public var longDescription: String?
    public var kind: String?
    public var mergeOp: String?
}

/// `SELECT columns FROM stream [INTO entity] [BY a OR b] [FILTER body | WHERE expr] ... [ALIAS name]`.
public struct SelectStatement: Sendable, Equatable {
    public var columns: [SelectColumn]
    public var from: String
    public var into: String?
    public var by: [String]
    public var filter: QLExpr?
    public var limit: Int?
    public var with: [String: QLValue]
    public var alias: String?
}

public enum QLStatement: Sendable, Equatable {
    case filter(FilterStatement)
    case select(SelectStatement)
    case expression(QLExpr)
}

/// The LQL kinds and merge operators (validated at parse time).
public enum LQLKinds {
    public static let kinds: Set<String> = [
        "int", "number", "bool", "date", "string", "[]string", "ts[]string", "[]time",
        "map[string]int", "map[string]number", "map[string]string", "map[string]time", "map[string]bool",
    ]
    public static let mergeOps: Set<String> = ["latest", "oldest", "min", "max", "sum", "latestmap", "oldestmap", "merge", "mapmin", "mapmax"]
}
