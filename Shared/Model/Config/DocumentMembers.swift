import Runtime

/// Strict reading of a configuration document sent to be saved: a member that nothing reads is
/// most likely a typo (`max_identifier`, a webhook's `secrett`) that would otherwise silently mean
/// the default, so writes refuse it, naming the members that part has. Stored documents are read
/// leniently (one saved before a check existed still loads).
public enum DocumentMembers {
    /// What the API adds around a document's own members when it returns one (read-only: a
    /// document fetched with GET can be sent back as it is).
    public static let metadata: Set<String> = ["id", "aid", "version", "created", "updated", "updated_by"]

    /// The first member of `object` (in name order) that is not in `known` (nor metadata, with
    /// `allowingMetadata`), as a message: `<at>unknown member "x" (<what> has a, b, c)`; nil if
    /// there is none.
    public static func stray(_ object: [String: JSONValue], known: [String], at: String = "", what: String, allowingMetadata: Bool = false) -> String? {
        guard let name = object.keys.sorted().first(where: { !known.contains($0) && !(allowingMetadata && metadata.contains($0)) }) else { return nil }
        return "\(at)unknown member \"\(name)\" (\(what) has \(known.joined(separator: ", ")))"
    }
}
