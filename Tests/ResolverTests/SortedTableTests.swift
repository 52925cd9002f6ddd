import IdentityCore
import Testing

@Suite struct SortedTableTests {
    /// Operations in order: set (nil removes) or append through the in-place access.
    static let cases: [(ops: [(String, [Int]?)], expected: [(String, [Int])])] = [
        ([], []),
        ([("b", [1]), ("a", [2]), ("c", [3])], [("a", [2]), ("b", [1]), ("c", [3])]),
        ([("b", [1]), ("b", nil)], []),
        ([("b", [1]), ("b", [4])], [("b", [1, 4])]),
        ([("x", [1]), ("a", nil), ("m", [2]), ("x", nil), ("m", [3])], [("m", [2, 3])]),
    ]

    @Test(arguments: cases.indices)
    func inPlaceAccess_insertsAppendsAndRemoves_keepingNameOrder(index: Int) {
        var table = SortedTable<[Int]>()
        var reference: [String: [Int]] = [:]
        func append(_ values: [Int], to held: inout [Int]?) { held = (held ?? []) + values } // the in-place access
        for (name, values) in Self.cases[index].ops {
            if let values {
                append(values, to: &table[name])
                reference[name, default: []].append(contentsOf: values)
            } else {
                table[name] = nil
                reference[name] = nil
            }
        }
        #expect(table.keys == Self.cases[index].expected.map(\.0))
        #expect(table.values == Self.cases[index].expected.map(\.1))
        #expect(table.keys == reference.keys.sorted())
        for (name, values) in reference { #expect(table[name] == values) }
    }

    @Test func optionalInPlaceAccess_canEmptyOrDropAnEntry_andEqualityIgnoresInsertionOrder() {
        var table: SortedTable<[Int]> = ["a": [1, 2], "b": [3]]
        func drop(_ values: inout [Int]?) { values = nil }
        func clear(_ values: inout [Int]?) { values?.removeAll() }
        func create(_ values: inout [Int]?) { values = (values ?? []) + [9] }
        drop(&table["a"])
        clear(&table["b"])
        create(&table["c"])
        #expect(table.keys == ["b", "c"])
        #expect(table["b"] == [] && table["c"] == [9] && table["a"] == nil)
        let other: SortedTable<[Int]> = ["c": [9], "b": []]
        #expect(table == other)
    }
}
