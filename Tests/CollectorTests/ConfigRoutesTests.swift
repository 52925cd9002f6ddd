import Collector
import HTTP
import Log
import Model
import Runtime
import Testing

@Suite struct ConfigRoutesTests {
    /// A kind mounted the way the segment and job issues will mount theirs.
    func router(_ fx: CollectorFixture) -> Router {
        var r = fx.router
        fx.app.mountConfigKind(&r, kind: "widget", path: "widget") { body, _, _, _ in
            guard let name = body["name"]?.stringValue, !name.isEmpty else { return .failure(ConfigValidationError("\"name\" is required")) }
            return .success(body)
        }
        return r
    }

    func call(_ r: Router, _ method: String, _ target: String, body: String = "", headers: [(String, String)] = []) async -> (Int, JSONValue, HTTPHeaders) {
        var h = HTTPHeaders(headers)
        h.add("Authorization", "Bearer \(adminToken)")
        let response = await r.handle(HTTPRequest(method: method, target: target, headers: h, body: Array(body.utf8)))
        return (response.status, (try? JSONParser().parse(response.body)) ?? .null, response.headers)
    }

    @Test func crudWithVersions_andIfMatchConflicts() async throws {
        let fx = try await CollectorFixture()
        let r = router(fx)
        let (created, doc, headers) = await call(r, "POST", "/api/widget", body: #"{"id":"w1","name":"First"}"#)
        #expect(created == 201)
        #expect(doc["data"]?["version"] == 1 && doc["data"]?["updated_by"] == "admin")
        #expect(headers["ETag"] == "\"1\"")
        #expect(await call(r, "POST", "/api/widget", body: #"{"id":"w1","name":"Again"}"#).0 == 409)
        #expect(await call(r, "POST", "/api/widget", body: #"{"id":"w2"}"#).0 == 400)

        let (updated, v2, _) = await call(r, "PUT", "/api/widget/w1", body: #"{"name":"Second"}"#, headers: [("If-Match", "\"1\"")])
        #expect(updated == 200 && v2["data"]?["version"] == 2 && v2["data"]?["name"] == "Second")
        // A writer that read version 1 loses.
        let (stale, message, _) = await call(r, "PUT", "/api/widget/w1", body: #"{"name":"Stale"}"#, headers: [("If-Match", "1")])
        #expect(stale == 409)
        #expect(message["message"]?.stringValue?.contains("current version 2") == true)
        #expect(await call(r, "GET", "/api/widget/w1").1["data"]?["name"] == "Second")
        #expect(await call(r, "GET", "/api/widget").1["data"]?.arrayValue?.count == 1)
        #expect(await call(r, "DELETE", "/api/widget/w1", headers: [("If-Match", "1")]).0 == 409)
        #expect(await call(r, "DELETE", "/api/widget/w1", headers: [("If-Match", "2")]).0 == 200)
        #expect(await call(r, "GET", "/api/widget/w1").0 == 404)
        #expect(await call(r, "PUT", "/api/widget/w9", body: #"{"name":"new"}"#, headers: [("If-Match", "abc")]).0 == 400)
        #expect(await call(r, "PUT", "/api/widget/w9", body: #"{"name":"new"}"#).0 == 201)
    }
}
