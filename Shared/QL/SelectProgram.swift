/// A SELECT (a stream mapping) compiled once into closures over field slots, as `QLProgram` does
/// for filters: the resolver maps every event through it. Semantics are those of
/// `QLEvaluator.select` — the same compiled nodes, the same operator and builtin functions.
public struct QLSelectProgram: Sendable {
    public let slots: [String]
    /// Whether the statement reads the whole record (`match`); otherwise the slots are enough.
    public let readsWholeRecord: Bool
    let filter: QLProgram.Node?
    let columns: [Column]
    /// The columns' names, in order: `evaluate` reports values by index into these.
    public let columnNames: [String]
    /// Whether two columns share a name (the later one's value wins, as in a row).
    public let hasRepeatedNames: Bool

    /// A struct, not a tuple: closures in an array of tuples are re-wrapped (allocated) on every read.
    struct Column: Sendable {
        let name: String
        let guarded: QLProgram.Node?
        let expr: QLProgram.Node
    }

    /// Compiles `statement`; INCLUDEs are not allowed in mappings (they throw, and the caller
    /// evaluates the statement with the interpreter instead).
    public init(_ statement: SelectStatement) throws(QLProgram.CompileError) {
        var builder = QLProgram.Builder(includes: { _ in nil })
        if let f = statement.filter { filter = try builder.compile(f) } else { filter = nil }
        var compiled: [Column] = []
        for column in statement.columns {
            var guarded: QLProgram.Node?
            if let g = column.guardExpr { guarded = try builder.compile(g) }
            compiled.append(Column(name: column.name, guarded: guarded, expr: try builder.compile(column.expr)))
        }
        columns = compiled
        columnNames = compiled.map(\.name)
        hasRepeatedNames = Set(columnNames).count != columnNames.count
        slots = builder.slots
        readsWholeRecord = builder.readsWholeRecord
    }

    /// The row for one record (nil when the WHERE does not hold), like `QLEvaluator.select`.
    public func row(_ fields: [String: QLValue], nowMs: Int64, messageTimeMs: Int64?) -> [String: QLValue]? {
        row(slotValues: slots.map { fields[$0] }, fields: fields, nowMs: nowMs, messageTimeMs: messageTimeMs)
    }

    /// The row from the record's values in slot order; `fields` (the whole record) is read only
    /// when `readsWholeRecord`.
    public func row(slotValues: [QLValue?], fields: [String: QLValue], nowMs: Int64, messageTimeMs: Int64?) -> [String: QLValue]? {
        var values: [(column: Int, value: QLValue)] = []
        guard evaluate(slotValues: slotValues, fields: fields, nowMs: nowMs, messageTimeMs: messageTimeMs, into: &values) else { return nil }
        var row = [String: QLValue](minimumCapacity: values.count)
        for (column, value) in values { row[columnNames[column]] = value }
        return row
    }

    /// The row without building it: `values` becomes each column that has a value (its IF guard
    /// holds and the expression is not missing), in column order, as (index into `columnNames`,
    /// value). False, and `values` empty, when the WHERE does not hold.
    public func evaluate(slotValues: [QLValue?], fields: [String: QLValue], nowMs: Int64, messageTimeMs: Int64?,
                         into values: inout [(column: Int, value: QLValue)]) -> Bool {
        values.removeAll(keepingCapacity: true)
        let frame = QLProgram.Frame(values: slotValues, fields: fields, nowMs: nowMs, messageTimeMs: messageTimeMs)
        if let filter, filter(frame) != .bool(true) { return false }
        values.reserveCapacity(columns.count)
        for (i, column) in columns.enumerated() {
            if let g = column.guarded, g(frame) != .bool(true) { continue }
            if let v = column.expr(frame) { values.append((i, v)) }
        }
        return true
    }
}
