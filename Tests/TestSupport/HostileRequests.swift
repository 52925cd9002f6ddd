import HTTP
import Runtime

extension Hostile {
    /// Requests for a daemon's routes with hostile path parameters, query strings, headers and
    /// bodies (authorized with `token`, so handlers get past authentication).
    public static func requests(for routes: [(method: String, pattern: String)], token: String, count: Int, _ rng: inout SeededRNG) -> [HTTPRequest] {
        let segments = ["", "x", "..", "%00", "%2F", "%zz", "%ff%fe", "a%20b", "~", "*", "{id}", "vip", "p_1", "email", "_uid", "j1", "1",
                        "-1", "99999999999999999999", "0", "aUDIENCE", "default", String(repeating: "a", count: 300), "%E2%80%A8", "🧑‍🚀"]
        let queries = ["", "?", "?&&=", "?fields=", "?fields=a,b,,c", "?explain=true", "?explain=maybe", "?limit=-1", "?limit=0",
                       "?limit=99999999999999999999", "?limit=1e3", "?dryrun=true", "?dryrun=1", "?aid=", "?aid=other", "?aid=%00",
                       "?from=now-1d&to=now", "?from=9999-99-99", "?at=-1", "?cursor=%zz", "?format=csv", "?format=ndjson",
                       "?timestamp_field=", "?version=-3", "?q=" + String(repeating: "%", count: 50)]
        let types = ["application/json", "application/x-ndjson", "text/csv", "text/plain", "application/x-www-form-urlencoded", ""]
        var out: [HTTPRequest] = []
        for i in 0..<count {
            let route = routes[i % routes.count]
            var path = ""
            for part in route.pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
                path += "/" + (part.hasPrefix("{") ? segments[Int(rng.next() % UInt64(segments.count))] : String(part))
            }
            let methods = [route.method, route.method, route.method, route.method, route.method, route.method, "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]
            let method = methods[Int(rng.next() % UInt64(methods.count))]
            var headers = HTTPHeaders([("Host", "t")])
            if rng.next() % 8 != 0 { headers.add("Authorization", "Bearer " + token) }
            if let type = types.randomElement(using: &rng), !type.isEmpty { headers.add("Content-Type", type) }
            if rng.next() % 6 == 0 { headers.add("If-Match", ["\"1\"", "*", "\"-1\"", "W/\"x\"", "99999999999999999999"][Int(rng.next() % 5)]) }
            let body: [UInt8]
            switch rng.next() % 4 {
            case 0: body = []
            case 1: body = value(&rng, depth: 3).serializedBytes()
            case 2:
                var o: [String: JSONValue] = [:]
                for key in ["name", "filter", "segments", "type", "destination", "identity_keys", "mappings", "role", "aid", "events", "rules", "email", "_uid", "slug", "description", "fields"]
                where rng.next() % 3 == 0 { o[key] = value(&rng, depth: 2) }
                body = JSONValue.object(o).serializedBytes()
            default: body = mutate(Array(#"{"name":"VIP","filter":"FILTER visitct > 3","segments":["vip"],"email":"a@x.com","events":[{"_uid":"c1"}]}"#.utf8), &rng)
            }
            // Operator tokens name the account in the query: mostly the one with data.
            var query = queries[Int(rng.next() % UInt64(queries.count))]
            if rng.next() % 3 != 0 { query += (query.isEmpty ? "?" : "&") + "aid=acme" }
            out.append(HTTPRequest(method: method, target: path + query, headers: headers, body: body))
        }
        return out
    }
}

extension Hostile {
    /// Sends `count` hostile requests to every route of `router`; returns the statuses seen and
    /// a line for each answer that is a server error (5xx other than 503, which means "not
    /// ready / broker unreachable").
    public static func exercise(_ router: Router, token: String, count: Int, seed: UInt64) async -> (statuses: [Int: Int], problems: [String]) {
        var rng = SeededRNG(seed: seed)
        var statuses: [Int: Int] = [:]
        var problems: [String] = []
        for request in requests(for: router.patterns, token: token, count: count, &rng) {
            let response = await router.handle(request)
            statuses[response.status, default: 0] += 1
            if response.status >= 500 && response.status != 503 {
                problems.append("\(request.method) \(request.target.prefix(120)) → \(response.status) \(String(decoding: response.body.prefix(200), as: UTF8.self))")
            }
        }
        return (statuses, problems)
    }
}
