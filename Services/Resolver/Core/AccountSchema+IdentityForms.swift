import QL

extension AccountSchema {
    /// The forms an identity value takes in the graph once an event carrying it is mapped: the
    /// value as given, as streams without a mapping keep it (an `email` as `email()` makes it),
    /// then what each mapping column that
    /// writes `field` from a single event field makes of it (`email(email) AS email` stores
    /// `Ada@Example.com` as `ada@example.com`). Lookups and deletions try all of them, so a person
    /// is found — and erased — by the value they know, not only by its stored form. Columns that
    /// read several fields (or none) cannot be applied to one value and are skipped. Distinct, in
    /// a stable order: the value first, then streams and columns in mapping order.
    public func identityForms(of value: String, field: String) -> [String] {
        var forms = [value]
        // Streams without a mapping store an `email` as `email()` makes it.
        if field == "email", case .string(let normalised)? = Builtins.table["email"]?.call([.string(value)], QLContext(fields: [:], nowMs: 0)),
           normalised != value {
            forms.append(normalised)
        }
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
