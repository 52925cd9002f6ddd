/// Kafka client settings given by the operator as `CDP_KAFKA_*` variables — security
/// (`CDP_KAFKA_SECURITY_PROTOCOL=SASL_SSL`, `CDP_KAFKA_SASL_MECHANISMS`, `CDP_KAFKA_SASL_USERNAME`,
/// `CDP_KAFKA_SSL_CA_LOCATION`...) or tuning — passed to librdkafka as they are for every
/// producer, consumer and admin client. The name after the prefix, lower-cased with `_` read as
/// `.` (and `__` as `_`), is the librdkafka property (`CDP_KAFKA_SASL_USERNAME` → `sasl.username`). librdkafka itself
/// checks names and values when a client is made; the properties cdp depends on are refused here.
public enum KafkaSettings {
    public static let prefix = "CDP_KAFKA_"

    /// Properties cdp sets itself, and why they cannot be changed.
    public static let reserved: [String: String] = [
        "bootstrap.servers": "set CDP_BROKERS instead",
        "metadata.broker.list": "set CDP_BROKERS instead",
        "client.id": "set CDP_INSTANCE_ID instead",
        "group.id": "each daemon names its group (CDP_<DAEMON>_GROUP)",
        "enable.idempotence": "records are published without duplicates by the idempotent producer",
        "partitioner": "keys must be placed on partitions as the Java client places them (murmur2_random)",
        "enable.auto.commit": "offsets are committed only after their records were processed",
        "enable.auto.offset.store": "offsets are committed only after their records were processed",
    ]

    /// The librdkafka property a variable names (`CDP_KAFKA_SASL_USERNAME` → `sasl.username`; a
    /// double `__` is a literal `_`: `CDP_KAFKA_LOG__LEVEL` → `log_level`), or nil if it is not a
    /// `CDP_KAFKA_` variable made of upper-case words.
    public static func property(forVariable name: String) -> String? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = String(name.dropFirst(prefix.count))
        guard !rest.isEmpty, !rest.hasPrefix("_"), !rest.hasSuffix("_"), !rest.contains("___"),
              rest.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }) else { return nil }
        return rest.lowercased().components(separatedBy: "__").map { $0.replacingOccurrences(of: "_", with: ".") }.joined(separator: "_")
    }

    /// The settings in `environment`, and a precise problem for each variable that cannot be one.
    public static func read(from environment: [String: String]) -> (settings: [String: String], problems: [String]) {
        var settings: [String: String] = [:]
        var problems: [String] = []
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix(prefix) {
            guard let property = property(forVariable: name) else {
                problems.append("\(name): expected \(prefix) and upper-case words joined by '_' ('.' in the property; '__' for a '_'): CDP_KAFKA_SASL_USERNAME sets sasl.username")
                continue
            }
            if let reason = reserved[property] {
                problems.append("\(name): \(property) is set by cdp (\(reason))")
                continue
            }
            if value.isEmpty {
                problems.append("\(name): empty value (unset the variable to keep librdkafka's default)")
                continue
            }
            settings[property] = value
        }
        return (settings, problems)
    }

    /// Whether a property's value must not appear in logs or errors.
    public static func isSecret(_ property: String) -> Bool {
        ["password", "secret", "pem", "oauthbearer.config"].contains { property.contains($0) }
    }

    /// `property=value` for messages, with secret values hidden.
    public static func describe(_ property: String, _ value: String) -> String {
        "\(property)=\(isSecret(property) ? "(hidden)" : value)"
    }
}
