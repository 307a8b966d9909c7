import FlukeModels
import FlukeTestSupport
import Foundation
import Testing

@testable import LogStreamer

@Suite("log-streamer POST /v1/logs: OpenTelemetry's OTLP/HTTP", .needsPostgresAndNATS)
struct OTLPTests {
    @Test("logs sent by OpenTelemetry's Python SDK through its OTLP/HTTP exporter (protobuf, then gzip) land as UnifiedLogEntry: level, message, trace id, attributes, app and the token's tenant")
    func pythonSDKExporter() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            try await h.withLogStreamer { api, _ in
                let endpoint = "http://127.0.0.1:\(try #require(api.client.port))/v1/logs"
                for gzip in [false, true] {
                    let service = gzip ? "checkout-gzip" : "checkout"
                    let traceID = try await OTLPFixtures.exportWithPythonSDK(endpoint: endpoint, token: world.token,
                                                                             service: service, gzip: gzip)
                    var items: [[String: Any]] = []
                    try await eventually(timeout: .seconds(30), "the exported entry of \(service) is stored") {
                        items = try await api.call(.get, "/api/v1/logs?app_name=\(service)", token: world.token).items
                        return !items.isEmpty
                    }
                    let entry = try #require(items.first)
                    #expect(items.count == 1, "\(items)")
                    #expect(entry["level"] as? String == "error" && entry["message"] as? String == "payment failed", "\(entry)")
                    #expect(entry["trace_id"] as? String == traceID, "\(entry)")
                    #expect((entry["span_id"] as? String)?.count == 16, "\(entry)")
                    let attributes = try #require(entry["attributes"] as? [String: Any], "\(entry)")
                    #expect(attributes["order_id"] as? Int == 42 && attributes["otel.severity_text"] as? String == "ERROR", "\(attributes)")
                    let metadata = try #require(entry["flukedeploy_metadata"] as? [String: Any], "\(entry)")
                    #expect(metadata["app_name"] as? String == service && metadata["version"] as? String == "1.4.2", "\(metadata)")
                    let source = try #require(entry["source"] as? [String: Any])
                    #expect(source["service"] as? String == service && source["component"] as? String == "otlp"
                        && source["instance"] as? String == "pod-7", "\(source)")
                    #expect((source["tenant_id"] as? String)?.lowercased() == world.tenantID.lowercased(), "\(source)")
                    #expect((source["project_id"] as? String)?.lowercased() == world.projectID.lowercased(), "\(source)")
                    let resource = try #require(entry["resource"] as? [String: Any])
                    #expect(resource["telemetry.sdk.language"] as? String == "python", "\(resource)")
                }
            }
        }
    }

    @Test("OTLP/JSON is stored like protobuf, and sent again stores nothing twice; bad data 400 with a google.rpc.Status naming the record, another type 415, a gzip bomb 413, a logs:read token 403, no token 401; nothing of a refused batch is ever stored")
    func jsonEncodingAndErrors() async throws {
        let h = try await LogsHarness()
        try await h.withProjectManager { pm in
            let world = try await LogsHarness.world(pm)
            let reader = try await LogsHarness.world(pm, scopes: ["logs:read"], tenant: "Reader")
            try await h.withLogStreamer(["LOGS_MAX_BODY_BYTES": "65536"]) { api, _ in
                let nanos = String(UInt64(Date().timeIntervalSince1970 * 1000) * 1_000_000)
                func request(service: String, _ records: [[String: Any]]) -> [UInt8] {
                    let body: [String: Any] = ["resourceLogs": [[
                        "resource": ["attributes": [["key": "service.name", "value": ["stringValue": service]]]],
                        "scopeLogs": [["scope": ["name": "billing.worker"], "logRecords": records]],
                    ]]]
                    return Array(try! JSONSerialization.data(withJSONObject: body))
                }
                let record: [String: Any] = [
                    "timeUnixNano": nanos, "severityNumber": 13, "severityText": "WARN", "body": ["stringValue": "invoice late"],
                    "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "eee19b7ec3c1b174",
                    "attributes": [["key": "invoice", "value": ["intValue": "9007199254740993"]],
                                   ["key": "retry", "value": ["boolValue": true]]],
                ]
                let json = request(service: "billing", [record])
                let sent = try await api.postOTLP(world.token, json, contentType: "application/json; charset=utf-8")
                #expect(sent.status == 200 && sent.body == Array("{}".utf8) && sent.contentType == "application/json", "\(sent)")
                // An exporter's retry of the same request: the same ids, nothing new stored.
                #expect(try await api.postOTLP(world.token, json, contentType: "application/json").status == 200)

                // Refused, each with a google.rpc.Status in the request's encoding.
                let badTrace = OTLPFixtures.request(record: OTLPFixtures.field(9, [1, 2, 3]))
                let malformed = try await api.postOTLP(world.token, badTrace)
                #expect(malformed.status == 400 && malformed.contentType == "application/x-protobuf")
                let status = try Self.status(malformed.body)
                #expect(status.code == 3 && status.message.contains("resourceLogs[0].scopeLogs[0].logRecords[0].traceId"), "\(status)")

                var badDeployment = record
                badDeployment["attributes"] = [["key": "fluke.deployment_id", "value": ["stringValue": "nope"]]]
                let invalid = try await api.postOTLP(world.token, request(service: "billing", [record, badDeployment]),
                                                     contentType: "application/json")
                let invalidStatus = try #require(try JSONSerialization.jsonObject(with: Data(invalid.body)) as? [String: Any])
                #expect(invalid.status == 400 && invalidStatus["code"] as? Int == 3
                    && invalidStatus["message"] as? String
                    == "resourceLogs[0].scopeLogs[0].logRecords[1] (its entry's flukedeploy_metadata.deployment_id): must be a UUID",
                    "\(invalidStatus)")

                let text = try await api.postOTLP(world.token, json, contentType: "text/plain")
                #expect(try text.status == 415 && Self.status(text.body).code == 3, "\(text)")
                let bomb = OTLPFixtures.gzip(request(service: "bomb", [record]) + [UInt8](repeating: 0x20, count: 8 << 20))
                let inflated = try await api.postOTLP(world.token, bomb, contentType: "application/json", contentEncoding: "gzip")
                #expect(try inflated.status == 413 && Self.json(inflated.body)["code"] as? Int == 8, "\(inflated)")
                let unknownCoding = try await api.postOTLP(world.token, json, contentType: "application/json", contentEncoding: "br")
                #expect(unknownCoding.status == 415)
                let readOnly = try await api.postOTLP(reader.token, json, contentType: "application/json")
                #expect(try readOnly.status == 403 && Self.json(readOnly.body)["code"] as? Int == 7, "\(readOnly)")
                let anonymous = try await api.postOTLP(nil, badTrace)
                #expect(try anonymous.status == 401 && Self.status(anonymous.body).code == 16, "\(anonymous)")
                // A token that is not valid is refused by the fleet's middleware, before the route (problem+json).
                #expect(try await api.postOTLP("not-a-token", json, contentType: "application/json").status == 401)

                // A gzip body within the limit is taken; once it is stored, every request before it has been handled.
                var last = record
                last["body"] = ["stringValue": "last"]
                let gzipped = try await api.postOTLP(world.token, OTLPFixtures.gzip(request(service: "sentinel", [last])),
                                                     contentType: "application/json", contentEncoding: "gzip")
                #expect(gzipped.status == 200)
                try await eventually(timeout: .seconds(30), "the gzip request's entry is stored") {
                    try await api.logIDs(world.token, "app_name=sentinel").count == 1
                }
                let items = try await api.call(.get, "/api/v1/logs?app_name=billing", token: world.token).items
                #expect(items.count == 1, "\(items)")
                let entry = try #require(items.first)
                #expect(entry["level"] as? String == "warn" && entry["message"] as? String == "invoice late", "\(entry)")
                #expect(entry["trace_id"] as? String == "5b8efff798038103d269b633813fc60c" && entry["span_id"] as? String == "eee19b7ec3c1b174")
                let attributes = try #require(entry["attributes"] as? [String: Any])
                #expect(attributes["invoice"] as? String == "9007199254740993" && attributes["retry"] as? Bool == true, "\(attributes)")
                #expect(attributes["otel.scope.name"] as? String == "billing.worker" && attributes["otel.severity_number"] as? Int == 13)
                #expect((entry["resource"] as? [String: Any])?["service.name"] as? String == "billing")
            }
            let (stored, queued) = try await h.database.withAdminClient { admin in
                (try await admin.query("SELECT count(*) FROM logs.entries").first!.decode(Int.self, at: 0),
                 try await admin.query("SELECT count(*) FROM logs.outbox").first!.decode(Int.self, at: 0))
            }
            #expect(stored == 2 && queued == 2, "stored \(stored), in the outbox \(queued)")
        }
    }

    static func status(_ body: [UInt8]) throws -> (code: UInt64, message: String) {
        var reader = ProtobufWireReader(body[...], path: "")
        var code: UInt64 = 0, message = ""
        while let field = try reader.next() {
            switch field.number {
            case 1: code = try reader.varint(field, name: "code")
            case 2: message = try reader.string(field)
            default: try reader.skip(field)
            }
        }
        return (code, message)
    }

    static func json(_ body: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
    }
}
