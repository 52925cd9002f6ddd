import Foundation
import Synchronization

/// A monotonically increasing count.
public final class Counter: Sendable {
    private let value = Atomic<UInt64>(0)
    init() {}
    public func inc(_ by: UInt64 = 1) { value.add(by, ordering: .relaxed) }
    public var current: UInt64 { value.load(ordering: .relaxed) }
}

/// A value that goes up and down (stored as the bits of a Double).
public final class Gauge: Sendable {
    private let bits = Atomic<UInt64>(Double(0).bitPattern)
    init() {}
    public func set(_ v: Double) { bits.store(v.bitPattern, ordering: .relaxed) }
    public func add(_ delta: Double) {
        var old = bits.load(ordering: .relaxed)
        while true {
            let new = (Double(bitPattern: old) + delta).bitPattern
            let (exchanged, original) = bits.compareExchange(expected: old, desired: new, ordering: .relaxed)
            if exchanged { return }
            old = original
        }
    }
    public var current: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}

/// A distribution over fixed upper bounds (Prometheus cumulative buckets).
public final class Histogram: Sendable {
    public let bounds: [Double]
    private struct State { var counts: [UInt64]; var sum: Double; var count: UInt64 }
    private let state: Locked<State>

    init(bounds: [Double]) {
        self.bounds = bounds.sorted()
        self.state = Locked(State(counts: Array(repeating: 0, count: bounds.count), sum: 0, count: 0))
    }

    public func observe(_ v: Double) {
        let index = bounds.firstIndex { v <= $0 }
        state.withLock { s in
            if let index { s.counts[index] += 1 }
            s.sum += v
            s.count += 1
        }
    }

    /// (cumulative counts per bound, sum, total count)
    public var snapshot: (cumulative: [UInt64], sum: Double, count: UInt64) {
        state.withLock { s in
            var running: UInt64 = 0
            let cumulative = s.counts.map { running += $0; return running }
            return (cumulative, s.sum, s.count)
        }
    }

    /// Default latency buckets in seconds.
    public static let latencyBounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
}

/// Holds every metric of a process and renders them in the Prometheus text format (version 0.0.4).
///
///     let requests = metrics.counter("http_requests_total", help: "Requests", labels: ["route": "/healthz"])
///     requests.inc()
public final class MetricsRegistry: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    private enum Series: Sendable {
        case counter(Counter)
        case gauge(Gauge)
        case histogram(Histogram)
    }

    private struct Family {
        var kind: Kind
        var help: String
        var series: [String: Series] = [:] // rendered label set → metric
    }

    private let families = Locked<[String: Family]>([:])

    public init() {}

    public func counter(_ name: String, help: String, labels: [String: String] = [:]) -> Counter {
        let series = lookup(name, help: help, kind: .counter, labels: labels) { .counter(Counter()) }
        guard case .counter(let c) = series else { preconditionFailure("metric \(name) is not a counter") }
        return c
    }

    public func gauge(_ name: String, help: String, labels: [String: String] = [:]) -> Gauge {
        let series = lookup(name, help: help, kind: .gauge, labels: labels) { .gauge(Gauge()) }
        guard case .gauge(let g) = series else { preconditionFailure("metric \(name) is not a gauge") }
        return g
    }

    public func histogram(_ name: String, help: String, labels: [String: String] = [:],
                          bounds: [Double] = Histogram.latencyBounds) -> Histogram {
        let series = lookup(name, help: help, kind: .histogram, labels: labels) { .histogram(Histogram(bounds: bounds)) }
        guard case .histogram(let h) = series else { preconditionFailure("metric \(name) is not a histogram") }
        return h
    }

    /// Drops one series (a partition no longer assigned, say); the family stays.
    public func remove(_ name: String, labels: [String: String]) {
        let key = Self.renderLabels(labels)
        families.withLock { all in _ = all[name]?.series.removeValue(forKey: key) }
    }

    private func lookup(_ name: String, help: String, kind: Kind, labels: [String: String],
                        make: () -> Series) -> Series {
        precondition(Self.isValidName(name), "invalid metric name \(name)")
        let key = Self.renderLabels(labels)
        return families.withLock { all in
            var family = all[name] ?? Family(kind: kind, help: help)
            precondition(family.kind == kind, "metric \(name) registered as \(family.kind.rawValue)")
            if let existing = family.series[key] { return existing }
            let created = make()
            family.series[key] = created
            all[name] = family
            return created
        }
    }

    /// Text exposition format, families and series sorted so output is stable.
    public func render() -> String {
        let copy = families.withLock { $0 }
        var out = ""
        for name in copy.keys.sorted() {
            let family = copy[name]!
            out += "# HELP \(name) \(Self.escapeHelp(family.help))\n# TYPE \(name) \(family.kind.rawValue)\n"
            for labelKey in family.series.keys.sorted() {
                switch family.series[labelKey]! {
                case .counter(let c):
                    out += "\(name)\(Self.braced(labelKey)) \(c.current)\n"
                case .gauge(let g):
                    out += "\(name)\(Self.braced(labelKey)) \(Self.format(g.current))\n"
                case .histogram(let h):
                    let snap = h.snapshot
                    for (i, bound) in h.bounds.enumerated() {
                        let le = "le=\"\(Self.format(bound))\""
                        out += "\(name)_bucket\(Self.braced(labelKey.isEmpty ? le : labelKey + "," + le)) \(snap.cumulative[i])\n"
                    }
                    let inf = "le=\"+Inf\""
                    out += "\(name)_bucket\(Self.braced(labelKey.isEmpty ? inf : labelKey + "," + inf)) \(snap.count)\n"
                    out += "\(name)_sum\(Self.braced(labelKey)) \(Self.format(snap.sum))\n"
                    out += "\(name)_count\(Self.braced(labelKey)) \(snap.count)\n"
                }
            }
        }
        return out
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first == ":" || first.properties.isAlphabetic && first.isASCII else {
            return false
        }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0 == "_" || $0 == ":" || $0.properties.isAlphabetic || ("0"..."9").contains($0)) }
    }

    static func renderLabels(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",")
    }

    private static func braced(_ s: String) -> String { s.isEmpty ? "" : "{\(s)}" }

    static func escapeLabel(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func escapeHelp(_ v: String) -> String {
        v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }
}
