@testable import QL
import Runtime
import Testing
import TestSupport

/// Values from events and profiles are outside input: every builtin, operator and statement must
/// answer (a value or "not ok") for any of them, never trap. A trap here is a daemon that crashes
/// on one event, and again on every restart that replays it.
@Suite struct HostileValueTests {
    /// Edge values of every QLValue case, including what computations produce but JSON cannot
    /// carry (non-finite numbers, extreme times).
    static let values: [QLValue] = {
        var out: [QLValue] = Hostile.numbers.compactMap(QLValue.init(json:)) + Hostile.strings.map(QLValue.string)
        out += [.number(.nan), .number(.infinity), .number(-.infinity), .number(.greatestFiniteMagnitude), .number(-.greatestFiniteMagnitude),
                .time(.max), .time(.min), .time(0), .time(-1), .time(253_402_300_799_999), .time(-62_135_596_800_001),
                .bool(true), .bool(false), .null, .strings([]), .strings(["", "1e300", "now-1d"]), .list([]),
                .list([.int(.max), .int(.min), .number(.nan)]), .list([.time(.max), .string("x"), .null]),
                .map([:]), .map(["a": .int(.max), "b": .number(.infinity), "": .time(.min)]), .map(["x": .list([.map([:])])])]
        return out
    }()

    static let nows: [Int64] = [0, 1_795_000_000_000, .max, .min, -1]

    static func pick(_ rng: inout SeededRNG) -> QLValue? {
        rng.next() % 12 == 0 ? nil : values[Int(rng.next() % UInt64(values.count))]
    }

    /// Values are written as JSON without building the JSON tree: the same bytes as the tree, for
    /// every edge value and for maps of 0, 1 and many keys (written in key order).
    @Test func writtenJSON_equalsTheTreesBytes() {
        var many: [String: QLValue] = [:]
        for i in (0..<60).reversed() { many["k\(i * 7 % 60)"] = i % 2 == 0 ? .int(Int64(i)) : .map(["z": .int(1), "a": .string("\(i)")]) }
        for value in Self.values + [.map([:]), .map(["only": .bool(true)]), .map(many), .list([.map(many), .map([:])])] {
            var written: [UInt8] = []
            value.writeJSON(to: &written)
            #expect(written == value.json.serializedBytes(), "\(value)")
        }
    }

    /// Builtins with a one-argument entry point (what compiled programs call) give what their
    /// array form gives, for every edge value.
    @Test func unaryEntryPoints_agreeWithTheArrayForm() {
        let unary = Builtins.table.filter { $0.value.call1 != nil }
        #expect(Set(unary.keys).isSuperset(of: ["email", "path", "host", "domain", "count", "set", "valuect"]))
        let arguments: [QLValue?] = [nil] + Self.values + [.strings(["b", "a", "b", ""]), .list([.string("x"), .int(1), .string("x")]), .string("/A/b?q#f"),
                                                           .string("https://Shop.Example.co.uk:8080/P/q?x=1"), .string("Ann <ANN@Example.com>")]
        for (name, builtin) in unary.sorted(by: { $0.key < $1.key }) {
            for value in arguments {
                for now in Self.nows {
                    let context = QLContext(fields: [:], messageTimeMs: now, nowMs: now)
                    let one = builtin.call1!(value, context), array = builtin.call([value], context)
                    #expect(Self.same(one, array), "\(name)(\(String(describing: value)))")
                }
            }
        }
    }

    /// Equal, counting NaN equal to itself.
    static func same(_ a: QLValue?, _ b: QLValue?) -> Bool {
        switch (a, b) {
        case (nil, nil): true
        case (.number(let x)?, .number(let y)?): x == y || (x.isNaN && y.isNaN)
        case (.list(let x)?, .list(let y)?): x.count == y.count && zip(x, y).allSatisfy { same($0, $1) }
        case (.map(let x)?, .map(let y)?): Set(x.keys) == Set(y.keys) && x.allSatisfy { same($0.value, y[$0.key]) }
        default: a == b
        }
    }

    // The loops yield now and then: the suite's tests share Swift's executor (as many threads as
    // cores), and a test that holds a thread for seconds stalls every task beside it.
    @Test func everyBuiltin_answersForHostileArguments() async {
        var rng = SeededRNG(seed: 2026_11_29)
        for name in Builtins.table.keys.sorted() {
            let builtin = Builtins.table[name]!
            let arities = Array(builtin.arity.lowerBound...min(builtin.arity.upperBound, builtin.arity.lowerBound + 3))
            await Task.yield()
            for round in 0..<150 {
                let arity = arities[round % arities.count]
                let args = (0..<arity).map { _ in Self.pick(&rng) }
                let now = Self.nows[round % Self.nows.count]
                let message: Int64? = round % 3 == 0 ? nil : Self.nows[(round / 3) % Self.nows.count]
                _ = builtin.call(args, QLContext(fields: [:], messageTimeMs: message, nowMs: now))
            }
        }
        #expect(Builtins.table.count >= 100)
    }

    @Test func everyOperator_answersForHostilePairs() async {
        var rng = SeededRNG(seed: 7)
        let compares: [QLExpr.CompareOp] = [.eq, .ne, .gt, .ge, .lt, .le]
        let arithmetic: [QLExpr.ArithmeticOp] = [.add, .sub, .mul, .div, .mod]
        var answered = 0
        for round in 0..<8_000 {
            if round % 500 == 0 { await Task.yield() }
            let (l, r, x) = (Self.pick(&rng), Self.pick(&rng), Self.pick(&rng))
            let now = Self.nows[round % Self.nows.count]
            if Operators.compare(compares[round % compares.count], l, r, now: now) != nil { answered += 1 }
            _ = Operators.arithmetic(arithmetic[round % arithmetic.count], l, r)
            _ = Operators.like(l, r)
            _ = Operators.contains(l, r)
            _ = Operators.isIn(l, r, now: now)
            _ = Operators.intersects(l, r, now: now)
            _ = Operators.between(l, r, x, now: now)
        }
        #expect(answered > 0)
    }

    /// Whole statements over hostile records: the interpreter, the compiled program and the
    /// next-flip computation (date math on extreme times).
    @Test func statements_overHostileRecords() async throws {
        let texts = [
            #"FILTER AND (a > 10, b < "now-3d", c BETWEEN 1 AND 5, d LIKE "x*", e IN (1, "2", 3.5), f INTERSECTS ("a", "b"), EXISTS g, h CONTAINS "z")"#,
            #"FILTER OR (a > "now-1h", b <= "now+7d", todate(c) > "now-30d", epochms(d) < 0, hourofweek(e) == 3, len(f) > 2)"#,
            #"FILTER NOT (a + b * c / d % 7 > e - f)"#,
            #"FILTER a > b AND c >= d AND e == f AND g != h"#,
        ]
        var rng = SeededRNG(seed: 99)
        var matched = 0
        for text in texts {
            let filter = try QLParser.parseFilter(text)
            let program = try QLProgram(filter)
            for round in 0..<2_000 {
                if round % 200 == 0 { await Task.yield() }
                var fields: [String: QLValue] = [:]
                for name in ["a", "b", "c", "d", "e", "f", "g", "h"] { if let v = Self.pick(&rng) { fields[name] = v } }
                let now = Self.nows[round % Self.nows.count]
                let context = QLContext(fields: fields, messageTimeMs: now, nowMs: now)
                if QLEvaluator.matches(filter, context) { matched += 1 }
                _ = program.matches(program.record(fields), nowMs: now, messageTimeMs: now)
                _ = NextFlip.compute(filter, context)
            }
        }
        #expect(matched > 0)
    }

    @Test func dateMath_answersForHostileTexts() {
        for text in Hostile.strings {
            _ = DateMath.parseDate(text)
            for now in Self.nows { _ = DateMath.time(.string(text), now: now) }
            if let (unit, amount) = DateMath.parse(text) {
                for now in Self.nows { _ = DateMath.apply(now, unit: unit, amount: amount) }
            }
        }
        for t in Self.nows + [253_402_300_799_999, -62_135_596_800_001] { _ = DateMath.components(t) }
        #expect(DateMath.parseDate("2026-11-29T00:00:00Z") == 1_795_910_400_000)
    }

    /// Mutated statements: the parser answers with a statement or a located error.
    @Test func mutatedStatements_parseOrFailCleanly() {
        let samples = [
            #"FILTER AND (email LIKE "*@x.com", visitct > 3, last_visit > "now-7d") ALIAS loyal"#,
            "SELECT email(email) AS email, count(_uid) AS visitct KIND int MERGEOP sum, set(path(url)) AS urls IF exists(url) FROM web INTO user BY email OR _uid WHERE NOT EXISTS _bot ALIAS web",
            #"FILTER INCLUDE other AND x IN (1, 2, "3") OR NOT y BETWEEN "now-1d" AND "now""#,
            #"ifcase(1 IF a > 2, 3 IF b, "x") + map("k", now()) - json.jmespath(j, "a.b[-1].c[*]")"#,
        ]
        var rng = SeededRNG(seed: 4)
        var failed = 0
        for round in 0..<6_000 {
            let bytes = Hostile.mutate(Array(samples[round % samples.count].utf8), &rng)
            do { _ = try QLParser.parseAll(String(decoding: bytes, as: UTF8.self)) } catch { failed += 1 }
        }
        #expect(failed > 0 && failed < 6_000)
    }
}
