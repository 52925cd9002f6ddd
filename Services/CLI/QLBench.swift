import Foundation
import QL
import Runtime

/// `cdp ql bench`: evaluates a 10-condition audience over N generated profiles on one core and
/// writes the same profiles as CSV for the SQLite side of `scripts/bench-ql`.
enum QLBench {
    static let audience = """
    FILTER AND (
        country == "US"
        plan IN ("pro", "enterprise")
        visits >= 5
        score BETWEEN 20 AND 80
        last_visit > "now-7d"
        channels INTERSECTS ("email", "sms")
        EXISTS email
        age < 65
        revenue > 100
        NOT (status == "churned")
    )
    """
    /// The same audience in SQL (channels as a comma-joined column; times as epoch ms).
    static func sql(nowMs: Int64) -> String {
        """
        SELECT count(*) FROM profiles WHERE country = 'US' AND plan IN ('pro','enterprise') AND visits >= 5
          AND score > 20 AND score < 80 AND last_visit > \(nowMs - 7 * 86_400_000)
          AND (instr(channels, 'email') > 0 OR instr(channels, 'sms') > 0) AND email IS NOT NULL
          AND age < 65 AND revenue > 100 AND NOT (status IS NOT NULL AND status = 'churned');
        """
    }

    struct RNG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    static func profiles(_ count: Int, nowMs: Int64) -> [[String: QLValue]] {
        var rng = RNG(state: 42)
        let countries = ["US", "CA", "GB", "DE", "FR"]
        let plans = ["free", "pro", "enterprise", "trial"]
        let channelSets: [[String]] = [["email"], ["sms"], ["push"], ["email", "push"], []]
        return (0..<count).map { i in
            var p: [String: QLValue] = [
                "country": .string(countries[rng.int(countries.count)]),
                "plan": .string(plans[rng.int(plans.count)]),
                "visits": .int(Int64(rng.int(20))),
                "score": .number(Double(rng.int(1000)) / 10),
                "last_visit": .time(nowMs - Int64(rng.int(30 * 86_400)) * 1000),
                "channels": .strings(channelSets[rng.int(channelSets.count)]),
                "age": .int(Int64(18 + rng.int(60))),
                "revenue": .number(Double(rng.int(500))),
            ]
            if rng.int(4) != 0 { p["email"] = .string("user\(i)@example.com") }
            if rng.int(10) == 0 { p["status"] = .string("churned") }
            return p
        }
    }

    static let nowMs: Int64 = 1_795_953_600_000

    static func run(count: Int, csvPath: String?) throws {
        let now = nowMs
        let filter = try QLParser.parseFilter(audience)
        FileHandle.standardError.write(Data("generating \(count) profiles...\n".utf8))
        let all = profiles(count, nowMs: now)
        if let csvPath {
            var csv = "country,plan,visits,score,last_visit,channels,email,age,revenue,status\n"
            for p in all {
                func s(_ k: String) -> String {
                    if case .strings(let items)? = p[k] { return items.joined(separator: "|") }
                    return p[k].map { $0.stringForm } ?? ""
                }
                csv += [s("country"), s("plan"), s("visits"), s("score"), s("last_visit"), s("channels"), s("email"), s("age"), s("revenue"), s("status")].joined(separator: ",") + "\n"
            }
            try csv.write(toFile: csvPath, atomically: true, encoding: .utf8)
        }
        // The interpreter over dictionaries, and the compiled program over slot records (the
        // shape a profile store keeps), on the same profiles.
        var interpreted = 0
        let t0 = ContinuousClock.now
        for p in all where QLEvaluator.matches(filter, QLContext(fields: p, nowMs: now)) { interpreted += 1 }
        let interpretedSeconds = (ContinuousClock.now - t0).seconds
        let program = try QLProgram(filter)
        let columns = program.columns(all)
        let t1 = ContinuousClock.now
        let matched = program.matchingRows(columns: columns, nowMs: now).count
        let seconds = (ContinuousClock.now - t1).seconds
        precondition(matched == interpreted, "compiled and interpreted results differ")
        print("{\"profiles\":\(count),\"matched\":\(matched),\"seconds\":\(String(format: "%.3f", seconds)),\"audience_evals_per_s\":\(Int(Double(count) / seconds)),\"interpreted_evals_per_s\":\(Int(Double(count) / interpretedSeconds))}")
    }
}
