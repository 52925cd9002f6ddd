import IdentityCore
import Model
import Runtime
import Testing

/// Which schema maps an account's events when its stored document is not a valid schema (one
/// written onto cdp.config past the API's checks).
@Suite struct SchemaInEffectTests {
    static func doc(_ kind: String, _ id: String, version: Int64 = 1, _ body: [String: JSONValue]) -> ConfigDocument {
        ConfigDocument(key: ConfigKey(account: "acme", kind: kind, id: id), version: version, createdMs: 1, updatedMs: 1, updatedBy: "admin", body: body)
    }
    static func keys(_ field: String) -> [String: JSONValue] {
        ["identity_keys": [["field": .string(field), "rank": 1]], "mappings": .string("SELECT \(field) FROM web INTO user BY \(field) ALIAS w")]
    }
    static let invalid: [String: JSONValue] = ["identity_keys": [], "mappings": "SELECT"]

    @Test(arguments: [
        ("no schema saved", nil, [:], ["user_id", "email", "_uid"], nil),
        ("a valid one", "phone", [:], ["phone"], nil),
        ("invalid, newest valid version used", "bad", ["phone": 1, "crm_id": 2, "bad": 3], ["crm_id"],
         "schema version 3 of account 'acme' is invalid (identity_keys must be a non-empty list); using version 2"),
        ("invalid, no valid version", "bad", ["bad": 1], ["user_id", "email", "_uid"],
         "schema version 3 of account 'acme' is invalid (identity_keys must be a non-empty list); using the default schema"),
    ] as [(String, String?, [String: Int], [String], String?)])
    func schemaInEffect(_ why: String, current: String?, history: [String: Int], expectedKeys: [String], problem: String?) {
        let body = { (field: String) in field == "bad" ? Self.invalid : Self.keys(field) }
        let currentDoc = current.map { Self.doc("schema", "current", version: 3, body($0)) }
        let versions = history.map { Self.doc("schemaversion", String($0.value), body($0.key)) }
        let (schema, reported) = AccountSchema.inEffect(current: currentDoc, history: versions)
        #expect(schema.identity.keys.map(\.field) == expectedKeys, "\(why)")
        #expect(reported == problem, "\(why)")
    }
}
