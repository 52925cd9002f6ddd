import Pipeline
import Log
import Model
import Runtime

/// Why a configuration write did not happen.
public enum ConfigWriteError: Error, Equatable, CustomStringConvertible {
    /// The document changed since the version the caller based its write on.
    case conflict(current: Int64)
    case notFound
    /// The broker did not take the write (503).
    case unavailable(String)

    public var description: String {
        switch self {
        case .conflict(let current): "the document changed concurrently (current version \(current)); read it again and retry with If-Match"
        case .notFound: "no such document"
        case .unavailable(let why): "configuration store unavailable: \(why)"
        }
    }
}

/// Writes configuration documents to `cdp.config` with optimistic concurrency and waits until the
/// view has applied them, so the caller learns the outcome every reader of the log will see.
public struct ConfigWriter: Sendable {
    let producer: any LogProducer
    let view: ConfigView
    let topic: String

    public init(producer: any LogProducer, view: ConfigView, topics: PipelineTopics) {
        self.producer = producer
        self.view = view
        self.topic = topics.config
    }

    /// Creates or replaces a document. `expectedVersion`: 0 = must not exist, n = must be at
    /// version n, nil = whatever is there.
    public func put(_ key: ConfigKey, body: [String: JSONValue], expectedVersion: Int64?, by: String, nowMs: Int64) async throws(ConfigWriteError) -> ConfigDocument {
        let current = view.read { $0.document(key) }
        if let expectedVersion, (current?.version ?? 0) != expectedVersion {
            throw .conflict(current: current?.version ?? 0)
        }
        let document = ConfigDocument(key: key, version: (current?.version ?? 0) + 1, createdMs: current?.createdMs ?? nowMs,
                                      updatedMs: nowMs, updatedBy: by, body: body)
        let offset = try await write(key, document.json.serializedBytes())
        switch await view.waitForApplied(offset: offset) {
        case .applied(let doc)?: return doc
        case .conflict(_, _, let current)?: throw .conflict(current: current)
        case .deleted?, .invalid?: throw .unavailable("unexpected result for \(key)")
        case nil: throw .unavailable("the write was not seen on cdp.config within 10 s")
        }
    }

    /// Deletes a document (a tombstone on the compacted topic).
    public func delete(_ key: ConfigKey, expectedVersion: Int64?) async throws(ConfigWriteError) {
        guard let current = view.read({ $0.document(key) }) else { throw .notFound }
        if let expectedVersion, current.version != expectedVersion { throw .conflict(current: current.version) }
        let offset = try await write(key, nil)
        guard await view.waitForApplied(offset: offset) != nil else {
            throw .unavailable("the delete was not seen on cdp.config within 10 s")
        }
    }

    private func write(_ key: ConfigKey, _ value: [UInt8]?) async throws(ConfigWriteError) -> Int64 {
        do {
            return try await producer.send(ProducerRecord(topic: topic, key: Array(key.description.utf8), value: value, partition: 0)).offset
        } catch {
            throw .unavailable("\(error)")
        }
    }
}
