/// The pipeline's topics, their names under the configurable prefix (`CDP_TOPIC_PREFIX`, default
/// `cdp.`), partition counts and topic configs.
public struct PipelineTopics: Sendable, Equatable {
    public static let defaultPrefix = "cdp."

    public enum Role: String, Sendable, CaseIterable {
        case events, config, profiles, memberships, exports, deadletter
    }

    public let prefix: String

    public init(prefix: String = PipelineTopics.defaultPrefix) {
        self.prefix = prefix
    }

    public func name(_ role: Role) -> String { prefix + role.rawValue }

    public var events: String { name(.events) }
    public var config: String { name(.config) }
    public var profiles: String { name(.profiles) }
    public var memberships: String { name(.memberships) }
    public var exports: String { name(.exports) }
    public var deadletter: String { name(.deadletter) }

    /// Every topic with the settings it should be created with.
    public func specs(partitions: Int) -> [(name: String, partitions: Int, configs: [String: String])] {
        Role.allCases.map { role in
            (name(role), role == .config ? 1 : partitions, Self.configs(for: role))
        }
    }

    /// Compaction for the keyed state topics; `cdp.config` has one partition so every reader sees
    /// every account's configuration in one order.
    public static func configs(for role: Role) -> [String: String] {
        switch role {
        case .config, .profiles, .memberships: ["cleanup.policy": "compact"]
        case .events, .exports, .deadletter: [:]
        }
    }

    /// A prefix must be a legal start of a Kafka topic name: `[A-Za-z0-9._-]`, at most 200 characters.
    public static func isValidPrefix(_ prefix: String) -> Bool {
        prefix.utf8.count <= 200 && prefix.unicodeScalars.allSatisfy {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "." || $0 == "_" || $0 == "-")
        }
    }
}
