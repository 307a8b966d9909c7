import FlukeModels
import FlukePostgres
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

/// A tiny service on the runtime, to test the conventions every service inherits.
struct EchoInput: Decodable {
    struct Inner: Decodable { var count: Int }
    var name: String
    var inner: Inner
    var tags: [String]
}

func makeTestApp(maxBody: Int = 2048, extra: [String: String] = [:]) async throws -> (some ApplicationProtocol, TestDatabase) {
    let database = try await TestDatabase.create()
    let reader = ConfigReader(environment: [
        "DATABASE_URL": database.url(role: "fluke_logs"), "NATS_URL": TestEnvironment.natsURL, "HTTP_PORT": "0",
        "HTTP_MAX_BODY_BYTES": String(maxBody),
    ].merging(TestEnvironment.natsUser("admin")) { _, b in b }.merging(extra) { _, b in b }, variables: FleetConfig.variables(defaultPort: 0))
    let config = try FleetConfig(serviceName: "echo", reader: reader)
    let runtime = try await FleetRuntime.start(
        config: config,
        migrator: try await database.migrated(PostgresMigrator(schema: "logs", migrations: [PostgresMigration("0001", """
            CREATE TABLE logs.outbox (seq bigserial PRIMARY KEY, event_id uuid NOT NULL UNIQUE, subject text NOT NULL,
                payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), published_at timestamptz);
            """)])),
        logger: TestEnvironment.logger)
    let app = FleetApplication.build(runtime: runtime, openAPI: "{}") { r in
        r.on(.post, "/echo/{id}") { request, context -> Response in
            let input = try await request.decode(as: EchoInput.self, context: context)
            return FleetApplication.jsonResponse(#"{"name":"\#(input.name)","count":\#(input.inner.count)}"#)
        }
        r.on(.get, "/boom") { _, _ -> Response in throw CancellationError() }
    }
    return (app, database)
}

@Suite("HTTP conventions of every service", .needsPostgresAndNATS)
struct HTTPConventionTests {
    func problem(_ response: TestResponse) throws -> [String: Any] {
        #expect(response.headers[.contentType] == "application/problem+json")
        return try #require(try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
    }

    func post(_ client: some TestClientProtocol, _ body: String, contentType: String = "application/json")
        async throws -> TestResponse {
        try await client.execute(uri: "/echo/1", method: .post, headers: [.contentType: contentType],
                                 body: ByteBuffer(string: body))
    }

    @Test("bad bodies get RFC 9457 problems: 400 malformed, 422 naming the field, 415, 413")
    func problems() async throws {
        let (app, _) = try await makeTestApp()
        try await app.test(.live) { client in
            let ok = try await post(client, #"{"name":"a","inner":{"count":2},"tags":[]}"#)
            #expect(ok.status == .ok)
            #expect(String(buffer: ok.body) == #"{"name":"a","count":2}"#)

            let malformed = try problem(try await post(client, #"{"name":"a","#))
            #expect(malformed["status"] as? Int == 400)
            #expect(malformed["field"] as? String == "body")

            let cases: [(String, String)] = [
                (#"{"inner":{"count":2},"tags":[]}"#, "name"),
                (#"{"name":"a","inner":{"count":"two"},"tags":[]}"#, "inner.count"),
                (#"{"name":"a","inner":{"count":2},"tags":[1]}"#, "tags[0]"),
                (#"{"name":null,"inner":{"count":2},"tags":[]}"#, "name"),
            ]
            for (body, field) in cases {
                let response = try await post(client, body)
                #expect(response.status == .unprocessableContent, "\(body)")
                #expect(try problem(response)["field"] as? String == field, "\(body)")
            }

            let wrongType = try await post(client, "name=a", contentType: "application/x-www-form-urlencoded")
            #expect(wrongType.status == .unsupportedMediaType)
            #expect(try problem(wrongType)["field"] as? String == "Content-Type")

            let big = try await post(client, #"{"name":""# + String(repeating: "x", count: 4096) + #""}"#)
            #expect(big.status == .contentTooLarge)
            _ = try problem(big)

            let boom = try await client.execute(uri: "/boom", method: .get)
            #expect(boom.status == .internalServerError)
            #expect(try problem(boom)["request_id"] is String)
        }
    }

    @Test("X-Request-Id is echoed when sent and generated when not; errors quote it")
    func requestID() async throws {
        let (app, _) = try await makeTestApp()
        try await app.test(.live) { client in
            let echoed = try await client.execute(uri: "/health", method: .get, headers: [.requestID: "abc-123"])
            #expect(echoed.headers[.requestID] == "abc-123")
            let generated = try await client.execute(uri: "/health", method: .get)
            #expect(UUID(uuidString: generated.headers[.requestID] ?? "") != nil)
            let missing = try await client.execute(uri: "/nope", method: .get, headers: [.requestID: "r-9"])
            #expect(try problem(missing)["request_id"] as? String == "r-9")
            #expect(try problem(missing)["instance"] as? String == "/nope")
        }
    }

    @Test("/metrics speaks Prometheus text and counts requests by route; /ready reports both dependencies")
    func operational() async throws {
        let (app, _) = try await makeTestApp()
        try await app.test(.live) { client in
            _ = try await client.execute(uri: "/echo/7", method: .post, headers: [.contentType: "application/json"],
                                         body: ByteBuffer(string: #"{"name":"a","inner":{"count":1},"tags":[]}"#))
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = String(buffer: metrics.body)
            #expect(text.contains(#"http_requests_total{method="POST",route="/echo/{id}",status="200"} 1"#))
            #expect(text.contains("nats_connection_status 1"))
            let ready = try await client.execute(uri: "/ready", method: .get)
            #expect(ready.status == .ok)
            #expect(String(buffer: ready.body).contains(#""postgres":"up""#))
        }
    }

    @Test("a connection that sends nothing, or too slowly, for HTTP_IDLE_TIMEOUT is closed; a head beyond HTTP_MAX_HEADER_BYTES is refused")
    func idleTimeoutAndHeaderLimit() async throws {
        let (app, _) = try await makeTestApp(extra: ["HTTP_IDLE_TIMEOUT": "1", "HTTP_MAX_HEADER_BYTES": "4096"])
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // Silent from the start.
            let silent = try RawConnection(port: port)
            let (nothing, silentClosed) = await silent.readUntilClosed(timeout: .seconds(30))
            #expect(silentClosed && nothing.isEmpty, "a silent connection was left open")
            // A request head that never finishes.
            let slow = try RawConnection(port: port)
            try slow.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            #expect(await slow.readUntilClosed(timeout: .seconds(30)).closed, "a never-finished head kept its connection")
            // Idle after an answered request on a keep-alive connection.
            let kept = try RawConnection(port: port)
            try kept.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let (answer, keptClosed) = await kept.readUntilClosed(timeout: .seconds(30))
            #expect(answer.hasPrefix("HTTP/1.1 200") && keptClosed, "\(answer)")

            // Header limit: under it is fine, over it is refused and the connection closed.
            // (Over raw connections: the test client's own connection has been idle for long enough to be closed.)
            let fits = try RawConnection(port: port)
            try fits.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "a", count: 2000))\r\n\r\n")
            #expect(await fits.readUntilClosed(timeout: .seconds(30)).received.hasPrefix("HTTP/1.1 200"))
            let big = try RawConnection(port: port)
            try big.send("GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: \(String(repeating: "a", count: 8000))\r\n\r\n")
            let (refused, bigClosed) = await big.readUntilClosed(timeout: .seconds(30))
            #expect(refused.hasPrefix("HTTP/1.1 431") && bigClosed, "\(refused.prefix(200))")
            #expect(refused.lowercased().contains("content-type: application/problem+json"))
            #expect(refused.contains(#""status":431"#) && refused.contains(#""field":"headers""#), "\(refused)")
            let many = try RawConnection(port: port)
            let pads = (0..<100).map { "X-Pad-\($0): \(String(repeating: "b", count: 60))\r\n" }.joined()
            try many.send("GET /health HTTP/1.1\r\nHost: x\r\n\(pads)\r\n")
            #expect(await many.readUntilClosed(timeout: .seconds(30)).received.hasPrefix("HTTP/1.1 431"))
        }
    }
}
