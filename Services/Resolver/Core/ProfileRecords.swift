import Model
import Runtime

/// The records the resolver publishes on `cdp.profiles` (key `<aid>/<id>`): the daemon and the
/// offline `cdp resolve --changes` write them here, so both give the same bytes.
public enum ProfileRecords {
    /// What one applied event publishes: the profile it changed (`IdentityGraph.changedProfile`),
    /// then a deleted record for each profile a merge absorbed. `emit` gets each record's
    /// profile id (its key is `<account>/<id>`: callers that need it write it themselves, no
    /// string per record here) and a function that appends its value.
    public static func changes(_ resolution: Resolution, profile: Profile?, account: String,
                               emit: (_ id: String, _ writeValue: (inout [UInt8]) -> Void) -> Void) {
        if let profile { emit(profile.id) { profile.writeJSON(account: account, to: &$0) } }
        for absorbed in resolution.absorbed {
            let record: JSONValue = ["v": 1, "aid": .string(account), "id": .string(absorbed), "deleted": true,
                                     "merged_into": .string(resolution.survivor ?? ""), "version": .int((resolution.absorbedVersions[absorbed] ?? 0) + 1)]
            emit(absorbed) { $0 += record.serializedBytes() }
        }
    }

    /// The deleted record of a profile erased by a deletion request.
    public static func erased(account: String, id: String, lastVersion: Int64, requestID: String) -> [UInt8] {
        let record: JSONValue = ["v": 1, "aid": .string(account), "id": .string(id), "deleted": true,
                                 "reason": .string("deletion request \(requestID)"), "version": .int(lastVersion + 1)]
        return record.serializedBytes()
    }
}
