import IdentityCore
import Testing

/// The stored forms an identity value is looked up and deleted by: the value as given, then what
/// each single-field mapping column that writes the key makes of it.
@Suite struct IdentityFormsTests {
    static let custom = try! AccountSchema(identity: IdentitySchema(keys: [
        IdentityKey(field: "email", rank: 1), IdentityKey(field: "phone", rank: 2), IdentityKey(field: "uid", rank: 3),
    ]), mappingText: """
    SELECT email(mail) AS email, tolower(contact) AS phone, uid AS uid FROM crm INTO user BY email OR phone OR uid ALIAS crm;
    SELECT email(email) AS email, set(uid, other) AS uid FROM app INTO user BY email OR uid ALIAS app
    """)

    @Test(arguments: [
        ("default", "email", "Ada@Example.COM", ["Ada@Example.COM", "ada@example.com"]),
        ("default", "email", "ada@example.com", ["ada@example.com"]),
        ("default", "email", "not an email", ["not an email"]),
        ("default", "_uid", "Cookie-1", ["Cookie-1"]),
        ("default", "user_id", "U1", ["U1"]),
        ("default", "nosuchkey", "X", ["X"]),
        // Columns from other event field names; one reading two fields is skipped.
        ("custom", "email", "Bob@X.com", ["Bob@X.com", "bob@x.com"]),
        ("custom", "phone", "ABC", ["ABC", "abc"]),
        ("custom", "uid", "U9", ["U9"]),
    ])
    func forms(schema: String, field: String, value: String, expected: [String]) {
        let s = schema == "default" ? AccountSchema.defaultSchema() : Self.custom
        #expect(s.identityForms(of: value, field: field) == expected)
    }
}
