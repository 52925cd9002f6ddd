import QL

extension AccountSchema {
    /// The forms an identity value takes in the graph once an event carrying it is mapped: the
    /// value as given (streams without a mapping keep it so), then what each mapping column that
    /// writes `field` from a single event field makes of it (`email(email) AS email` stores
    /// `Ada@Example.com` as `ada@example.com`). Lookups and deletions try all of them, so a person
    /// is found — and erased — by the value they know, not only by its stored form. Columns that
    /// read several fields (or none) cannot be applied to one value and are skipped. Distinct, in
    /// a stable order: the value first, then streams and columns in mapping order.
    public func identityForms(of value: String, field: String) -> [String] {
        var forms = [value]
        for stream in mappings.keys.sorted() {
            for statement in mappings[stream] ?? [] {
                for column in statement.columns where column.name == field {
                    let read = QLAnalysis.fields(column.expr)
                    guard read.count == 1,
                          let mapped = QLEvaluator.evaluate(column.expr, QLContext(fields: [read[0]: .string(value)], messageTimeMs: 0, nowMs: 0))
                    else { continue }
                    var produced: [Identifier] = []
                    EventMapper.appendIdentifiers(field, mapped, to: &produced)
                    for id in produced where !forms.contains(id.value) { forms.append(id.value) }
                }
            }
        }
        return forms
    }
}
