import Crypto
import Foundation
import Runtime

/// A partition's state at an offset, written atomically and checked on load.
public enum SnapshotFile {
    public static let formatVersion: Int64 = 1

    /// `{"v":1,"topic","partition","offset","state":{...},"sha256":"<hex of the state's bytes>"}`.
    public static func encode(topic: String, partition: Int32, offset: Int64, state: JSONValue) -> [UInt8] {
        let body = state.serializedBytes()
        let doc: JSONValue = ["v": .int(formatVersion), "topic": .string(topic), "partition": .int(Int64(partition)), "offset": .int(offset),
                              "sha256": .string(Digest.hex(Digest.sha256(body))), "state": state]
        return doc.serializedBytes()
    }

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unreadable(String)
        case mismatch(String)
        public var description: String {
            switch self {
            case .unreadable(let m): "unreadable snapshot: \(m)"
            case .mismatch(let m): "snapshot does not match: \(m)"
            }
        }
    }

    /// Writes a snapshot file atomically (a temporary file renamed into place).
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let temp = path + ".tmp"
        try Data(bytes).write(to: URL(fileURLWithPath: temp))
        guard rename(temp, path) == 0 else { throw CocoaError(.fileWriteUnknown) }
    }

    /// The state and offset, or why the file must not be trusted.
    public static func decode(_ bytes: [UInt8], topic: String, partition: Int32) -> Result<(offset: Int64, state: JSONValue), Problem> {
        guard let doc = try? JSONParser(maxDepth: 256).parse(bytes) else { return .failure(.unreadable("not JSON (truncated?)")) }
        guard doc["v"]?.intValue == formatVersion else { return .failure(.mismatch("format version \(doc["v"]?.serialized() ?? "none")")) }
        guard doc["topic"]?.stringValue == topic, doc["partition"]?.intValue == Int64(partition) else {
            return .failure(.mismatch("written for \(doc["topic"]?.stringValue ?? "?")[\(doc["partition"]?.intValue ?? -1)]"))
        }
        guard let offset = doc["offset"]?.intValue, offset >= 0, let state = doc["state"], let sum = doc["sha256"]?.stringValue else {
            return .failure(.unreadable("missing fields"))
        }
        guard Digest.hex(Digest.sha256(state.serializedBytes())) == sum else { return .failure(.unreadable("checksum mismatch")) }
        return .success((offset, state))
    }
}
