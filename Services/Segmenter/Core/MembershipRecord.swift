import Runtime

/// The value of a `cdp.memberships` record: `{"aid","profile","segments":[ids],"transitions":
/// [{"action","segment","ts","version"}],"v":1,"version"}` — the bytes serialising that JSON
/// object gives (keys in order), written directly: every profile change publishes one, and
/// building the JSON tree first took a tenth of the segmenter's time per change.
public enum MembershipRecord {
    public static func value(account: String, profile: String, version: Int64, current: Set<String>, transitions: [Transition]) -> [UInt8] {
        let segments = current.sorted()
        return ByteWriter.bytes(estimate: 128 + 24 * segments.count + 112 * transitions.count) { w in
            w.bytes("{\"aid\":")
            w.quoted(account)
            w.bytes(",\"profile\":")
            w.quoted(profile)
            w.bytes(",\"segments\":[")
            for i in segments.indices {
                if i > 0 { w.byte(0x2C) }
                w.quoted(segments[i])
            }
            w.bytes("],\"transitions\":[")
            for i in transitions.indices {
                let t = transitions[i]
                if i > 0 { w.byte(0x2C) }
                w.bytes("{\"action\":")
                w.quoted(t.action.rawValue)
                w.bytes(",\"segment\":")
                w.quoted(t.audience)
                w.bytes(",\"ts\":")
                w.quotedTime(epochMs: t.atMs)
                w.bytes(",\"version\":")
                w.int(t.version)
                w.byte(0x7D)
            }
            w.bytes("],\"v\":1,\"version\":")
            w.int(version)
            w.byte(0x7D)
        }
    }
}
