import Model
import Runtime
import Testing

func configRecord(_ key: String, version: Int64, body: [String: JSONValue] = [:]) -> [UInt8] {
    let k = ConfigKey(parsing: key)!
    return ConfigDocument(key: k, version: version, createdMs: 1, updatedMs: version, updatedBy: "admin", body: body).json.serializedBytes()
}

@Suite struct ConfigStateTests {
    @Test func versionsApplyInOrder_andStaleWritesConflict() {
        var s = ConfigState()
        guard case .applied(let d1) = s.apply(key: "acme/segment/s1", value: configRecord("acme/segment/s1", version: 1, body: ["name": "A"])) else {
            Issue.record("v1 should apply")
            return
        }
        #expect(d1.version == 1)
        #expect(s.apply(key: "acme/segment/s1", value: configRecord("acme/segment/s1", version: 1)) == .conflict(ConfigKey(parsing: "acme/segment/s1")!, expected: 0, current: 1))
        guard case .applied = s.apply(key: "acme/segment/s1", value: configRecord("acme/segment/s1", version: 2, body: ["name": "B"])) else {
            Issue.record("v2 should apply")
            return
        }
        #expect(s.apply(key: "acme/segment/s1", value: configRecord("acme/segment/s1", version: 4)) == .conflict(ConfigKey(parsing: "acme/segment/s1")!, expected: 3, current: 2))
        #expect(s.document(ConfigKey(parsing: "acme/segment/s1")!)?.body["name"] == "B")
        #expect(s.apply(key: "acme/segment/s1", value: nil) == .deleted(ConfigKey(parsing: "acme/segment/s1")!))
        #expect(s.document(ConfigKey(parsing: "acme/segment/s1")!) == nil)
        // After a delete, a new document starts again at version 1.
        guard case .applied = s.apply(key: "acme/segment/s1", value: configRecord("acme/segment/s1", version: 1)) else {
            Issue.record("re-create should apply")
            return
        }
    }

    @Test func apiKeysAreIndexedByTokenHash_andRevocationRemovesThem() {
        var s = ConfigState()
        _ = s.apply(key: "acme/apikey/k1", value: configRecord("acme/apikey/k1", version: 1, body: ["token_sha256": "abc", "roles": ["collect"]]))
        #expect(s.apiKey(tokenSHA256: "abc")?.key.id == "k1")
        _ = s.apply(key: "acme/apikey/k1", value: nil)
        #expect(s.apiKey(tokenSHA256: "abc") == nil)
    }

    @Test(arguments: [
        ("nokey", "record key 'nokey' is not <aid>/<kind>/<id>"),
        ("ACME/segment/x", "record key 'ACME/segment/x' is not <aid>/<kind>/<id>"),
        ("acme/Seg/x", "record key 'acme/Seg/x' is not <aid>/<kind>/<id>"),
    ])
    func badKeys_changeNothing(key: String, message: String) {
        var s = ConfigState()
        #expect(s.apply(key: key, value: Array("{}".utf8)) == .invalid(message))
        #expect(s.documents.isEmpty)
    }

    @Test func badValues_changeNothing() {
        var s = ConfigState()
        #expect(s.apply(key: "acme/segment/x", value: Array("not json".utf8)) == .invalid("value of acme/segment/x is not a valid configuration document"))
        // A record whose body names another document is refused too.
        #expect(s.apply(key: "acme/segment/x", value: configRecord("acme/segment/y", version: 1)) == .invalid("value of acme/segment/x is not a valid configuration document"))
        #expect(s.documents.isEmpty)
    }

    @Test func sameRecords_sameState() {
        let records: [(String, [UInt8]?)] = [
            ("a/account/a", configRecord("a/account/a", version: 1, body: ["name": "A"])),
            ("b/account/b", configRecord("b/account/b", version: 1)),
            ("a/segment/s", configRecord("a/segment/s", version: 1)),
            ("a/segment/s", configRecord("a/segment/s", version: 2)),
            ("b/account/b", nil),
        ]
        var x = ConfigState()
        var y = ConfigState()
        for (k, v) in records { _ = x.apply(key: k, value: v) }
        for (k, v) in records { _ = y.apply(key: k, value: v) }
        #expect(x.documents == y.documents)
        #expect(x.accounts.map(\.key.id) == ["a"])
        #expect(x.documents(account: "a", kind: "segment").map(\.version) == [2])
    }
}
