import QL
import Runtime

/// An audience (segment) of an account, compiled once.
public struct Audience: Sendable {
    public let id: String
    public let slug: String
    public let filter: FilterStatement
    public let program: QLProgram
    public let apiAccessible: Bool
    /// The slugs this audience INCLUDEs (directly).
    public let includes: [String]
    /// When time alone changes its result next, prepared once (nil when it cannot: most
    /// audiences, which then skip the search on every evaluation).
    public let flips: NextFlip.Plan?
}

/// Why an audience definition was refused.
public struct AudienceError: Error, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Lytics's limit on the field values one audience may name.
public let maxFieldValuesPerAudience = 1000

/// The audiences of one account, compiled together so INCLUDEs resolve by slug (cycles and
/// unknown slugs are errors), plus the built-in audiences every account has.
public struct AudienceSet: Sendable {
    public private(set) var audiences: [Audience] = []
    /// Every field some audience reads, once, in the slot order all of their programs share: a
    /// change looks each field up once and every program reads that one record.
    private var fields: [String] = []

    /// Built-in audiences: everyone, known users (with an email), anonymous users.
    public static let builtIns: [(slug: String, filter: String)] = [
        ("all_users", "FILTER *"),
        ("known_users", "FILTER EXISTS email"),
        ("anonymous_users", "FILTER NOT EXISTS email"),
    ]

    public struct Definition: Sendable {
        public var id: String
        public var slug: String
        public var filterQL: String
        public var apiAccessible: Bool
        public init(id: String, slug: String, filterQL: String, apiAccessible: Bool = false) {
            self.id = id
            self.slug = slug
            self.filterQL = filterQL
            self.apiAccessible = apiAccessible
        }
    }

    /// Compiles definitions (built-ins added); throws the first problem, naming the audience.
    public init(_ definitions: [Definition], includeBuiltIns: Bool = true) throws(AudienceError) {
        var all = definitions
        if includeBuiltIns {
            for b in Self.builtIns where !all.contains(where: { $0.slug == b.slug }) {
                all.append(Definition(id: b.slug, slug: b.slug, filterQL: b.filter, apiAccessible: true))
            }
        }
        var parsed: [String: (Definition, FilterStatement)] = [:]
        for d in all {
            guard parsed[d.slug.lowercased()] == nil else { throw AudienceError("slug '\(d.slug)' is used twice") }
            do throws(QLError) {
                parsed[d.slug.lowercased()] = (d, try QLParser.parseFilter(d.filterQL))
            } catch {
                throw AudienceError("audience '\(d.slug)': \(error)")
            }
        }
        for (slug, (_, filter)) in parsed {
            let count = QLAnalysis.fieldValueCount(filter.body)
            if count > maxFieldValuesPerAudience {
                throw AudienceError("audience '\(slug)': Audience too large! Remove values to save this audience (\(count) field values, at most \(maxFieldValuesPerAudience))")
            }
        }
        let filters = parsed.mapValues(\.1)
        for (slug, (d, filter)) in parsed.sorted(by: { $0.key < $1.key }) {
            let program: QLProgram
            do throws(QLProgram.CompileError) {
                program = try QLProgram(filter, includes: { filters[$0] }, sharing: &fields)
            } catch {
                throw AudienceError("audience '\(slug)': \(error)")
            }
            audiences.append(Audience(id: d.id, slug: d.slug, filter: filter, program: program, apiAccessible: d.apiAccessible,
                                      includes: QLAnalysis.includes(filter.body), flips: Self.flipPlan(filter)))
        }
    }

    /// Slugs of the audiences that INCLUDE `slug` (directly or not) — they must go when it goes.
    public func dependents(of slug: String) -> [String] {
        var out: [String] = []
        var frontier = [slug.lowercased()]
        while let next = frontier.popLast() {
            for a in audiences where a.includes.contains(next) && !out.contains(a.slug) {
                out.append(a.slug)
                frontier.append(a.slug.lowercased())
            }
        }
        return out.sorted()
    }

    /// The audiences a profile belongs to now, and the earliest instant at which time alone could
    /// change that (relative dates), if any.
    public func evaluate(_ fields: [String: QLValue], nowMs: Int64) -> (members: Set<String>, nextFlipMs: Int64?) {
        var members = Set<String>()
        var flip: Int64?
        let context = QLContext(fields: fields, nowMs: nowMs)
        let values = self.fields.map { fields[$0] }
        // Read in place: copying each audience out of the array retained and released all of
        // its parts, a hundred times per profile change.
        audiences.withUnsafeBufferPointer { list in
            for i in list.indices {
                if list[i].program.matches(values, nowMs: nowMs) { members.insert(list[i].id) }
                if let plan = list[i].flips, let f = plan.compute(context), f > nowMs { flip = min(flip ?? f, f) }
            }
        }
        return (members, flip)
    }

    static func flipPlan(_ filter: FilterStatement) -> NextFlip.Plan? {
        let plan = NextFlip.Plan(filter)
        return plan.dependsOnTime ? plan : nil
    }
}
