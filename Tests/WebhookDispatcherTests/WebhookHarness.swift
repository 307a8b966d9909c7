import ContextAPI
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import ProjectManager
import Synchronization
import Testing
@testable import WebhookDispatcher

/// project-manager and webhook-dispatcher (and context-api where a test needs it) against one
/// database and one nats-server, as in production, plus local receivers.
struct WebhookHarness {
    static let encryptionKey = "k1:" + Data((0..<32).map { UInt8($0) }).base64EncodedString()
    let database: TestDatabase
    let nats: NATSServer
    /// Set when the test owns its Postgres cluster (to restart it).
    let postgres: PostgresServer?
    var common: [String: String]

    init(privatePostgres: Bool = false) async throws {
        if privatePostgres {
            let server = try PostgresServer()
            postgres = server
            database = TestDatabase.on(server)
        } else {
            postgres = nil
            database = try await TestDatabase.create()
        }
        try await database.migrate(PMMigrations.migrator, ContextMigrations.migrator, WebhookMigrations.migrator)
        nats = try NATSServer()
        common = ["NATS_URL": nats.url, "HTTP_PORT": "0", "FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys,
                  "STARTUP_ATTEMPTS": "3", "STARTUP_RETRY_DELAY": "0.2", "FLUKE_ENCRYPTION_KEY": Self.encryptionKey]
    }

    var pmEnvironment: [String: String] {
        common.merging(TestEnvironment.natsUser("project-manager")) { _, b in b }.merging(["DATABASE_URL": database.url(role: "fluke_pm"), "PM_JWT_PRIVATE_KEYS": TestKeys.jwtPrivateKeys, "PM_SIGNUP_ENABLED": "true", "PM_SCRYPT_LOG_N": "10"]) { _, b in b }
    }

    /// Local receivers are on 127.0.0.1 over http: allowed here as the tests do.
    func webhookEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
        common.merging(TestEnvironment.natsUser("webhook-dispatcher")) { _, b in b }.merging(["DATABASE_URL": database.url(role: "fluke_webhooks"), "WEBHOOK_ALLOW_HTTP": "true",
                        "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1", "WEBHOOK_RETRY_SCHEDULE": "0,0.2,0.4,0.8",
                        "WEBHOOK_REQUEST_TIMEOUT": "3", "WEBHOOK_CONNECT_TIMEOUT": "1", "WEBHOOK_LEASE": "5"]) { _, b in b }
            .merging(overrides) { _, b in b }
    }

    func withProjectManager<T: Sendable>(_ body: @escaping @Sendable (JSONClient) async throws -> T) async throws -> T {
        let config = try PMConfig(reader: ConfigReader(environment: pmEnvironment, variables: PMConfig.variables))
        let app = try await ProjectManager.buildApplication(config: config, logger: TestEnvironment.logger)
        return try await app.test(.live) { client in try await body(JSONClient(client: client)) }
    }

    func withDispatcher<T: Sendable>(_ overrides: [String: String] = [:], logger: Logger = TestEnvironment.logger,
                                     _ body: @escaping @Sendable (JSONClient, WebhookParts) async throws -> T) async throws -> T {
        let config = try WebhookConfig(reader: ConfigReader(environment: webhookEnvironment(overrides),
                                                            variables: WebhookConfig.variables))
        let parts = Mutex<WebhookParts?>(nil)
        let app = try await WebhookDispatcher.buildApplication(config: config, logger: logger) { p in
            parts.withLock { $0 = p }
        }
        let captured = parts.withLock { $0 }!
        return try await app.test(.live) { client in try await body(JSONClient(client: client), captured) }
    }

    /// A tenant with an owner session, a project, and an `fbk_` token bound to it.
    struct World: Sendable {
        var tenantID: String
        var ownerToken: String
        var projectID: String
        var token: String
    }

    static func world(_ pm: JSONClient, scopes: [String] = ["webhooks:manage", "context:read", "context:write", "secrets:read"])
        async throws -> World {
        let email = "owner-\(UUID().uuidString.prefix(8).lowercased())@example.com"
        let signup = try await pm.call(.post, "/auth/signup", json: ["email": email, "password": "long password",
                                                                     "name": "Owner", "tenant_name": "Acme"])
        try #require(signup.status == 201, "\(signup.json)")
        let login = try await pm.call(.post, "/auth/login", json: ["email": email, "password": "long password"])
        let owner = try #require(login.string("access_token"))
        let project = try await pm.call(.post, "/api/v1/projects", token: owner, json: ["name": "Hooks", "stage": "mvp"])
        let projectID = try #require(project.string("id"))
        let token = try await pm.call(.post, "/api/v1/tokens", token: owner,
                                      json: ["name": "hooks", "scopes": scopes, "project_id": projectID])
        return World(tenantID: (signup["tenant"] as? [String: Any])?["id"] as? String ?? "", ownerToken: owner,
                     projectID: projectID, token: try #require(token.string("token")))
    }

    /// Publishes fleet events straight into `FLUKE_EVENTS`, as any service's outbox relay does.
    /// With `patience`, a failed publish (nats-server restarting) is tried again until it is
    /// stored; the message id makes a retry of a stored event a no-op.
    /// The same, on a connection of the test's own (the dispatcher's NATS user may not publish
    /// other services' event types).
    static func publish(_ server: NATSServer, _ events: some Sequence<CloudEvent>) async throws {
        let nats = try await NATSClient.connect(.admin(url: server.url, name: "test-publisher", sendAsap: true),
                                                logger: TestEnvironment.logger)
        do {
            try await publish(nats, events)
            await nats.shutdown()
        } catch {
            await nats.shutdown()
            throw error
        }
    }

    static func publish(_ nats: NATSClient, _ events: some Sequence<CloudEvent>, patience: Duration = .zero) async throws {
        let encoder = CloudEvent.encoder()
        for event in events {
            let payload = try encoder.encode(event)
            let deadline = ContinuousClock.now + patience
            while true {
                do {
                    _ = try await nats.jetStreamPublish(event.subject, payload: payload, messageID: event.id)
                    break
                } catch where ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    static func event(_ type: EventType, world: World, data: JSONValue = .object(["n": .number(1)])) -> CloudEvent {
        CloudEvent(source: "test", type: type, tenantID: world.tenantID, projectID: world.projectID, data: data)
    }
}

/// One request a receiver got.
struct Received: Sendable {
    var path: String
    var headers: [String: String]
    var body: Data
    var at: ContinuousClock.Instant
}

/// A local webhook receiver: records every request and answers what `answer` says.
final class Receiver: Sendable {
    private let log = Mutex<[Received]>([])
    /// Requests being answered now, and the most there ever were at once.
    private let concurrency = Mutex<(now: Int, most: Int)>((0, 0))
    let answer: @Sendable (Received, Int) -> (status: HTTPResponse.Status, headers: HTTPFields)
    /// How long each answer takes.
    let delay: Duration

    init(delay: Duration = .zero,
         answer: @escaping @Sendable (Received, Int) -> (status: HTTPResponse.Status, headers: HTTPFields) = { _, _ in (.ok, [:]) }) {
        self.delay = delay
        self.answer = answer
    }

    var received: [Received] { log.withLock { $0 } }
    var mostAtOnce: Int { concurrency.withLock { $0.most } }

    /// Runs the receiver on a free port while `body` runs; `body` gets its base URL.
    func run<T: Sendable>(_ body: @escaping @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/{path}") { request, _ -> Response in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let data = Data(buffer: try await request.body.collect(upTo: 1 << 20))
            let r = Received(path: request.uri.path, headers: headers, body: data, at: .now)
            let n = self.log.withLock { l in l.append(r); return l.count }
            if self.delay > .zero {
                self.concurrency.withLock { c in c.now += 1; c.most = max(c.most, c.now) }
                try? await Task.sleep(for: self.delay)
                self.concurrency.withLock { $0.now -= 1 }
            }
            let (status, extra) = self.answer(r, n)
            return Response(status: status, headers: extra, body: .init(byteBuffer: ByteBuffer(string: "answer \(n)")))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              logger: TestEnvironment.logger)
        return try await app.test(.live) { client in try await body("http://127.0.0.1:\(client.port!)") }
    }
}

extension JSONClient {
    /// Creates a subscription and returns its reply.
    func subscribe(_ token: String, project: String, url: String, events: [String] = ["*"], extra: [String: Any] = [:])
        async throws -> JSONReply {
        var body: [String: Any] = ["project_id": project, "callback_url": url, "events": events]
        body.merge(extra) { _, b in b }
        return try await call(.post, "/api/v1/webhooks/subscriptions", token: token, json: body)
    }
}

/// Verifies Standard Webhooks signatures with the reference implementation (PyPI
/// `standardwebhooks`, installed into .venv by `make test`).
enum ReferenceVerifier {
    static var python: String {
        ProcessInfo.processInfo.environment["FLUKE_TEST_PYTHON"]
            ?? TestEnvironment.repositoryRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// Whether `standardwebhooks.Webhook(secret).verify(body, headers)` accepts each request.
    static func verify(_ requests: [Received], secret: String) throws -> [Bool] {
        let script = """
        import json, sys
        from standardwebhooks.webhooks import Webhook
        secret = sys.argv[1]
        out = []
        for item in json.load(sys.stdin):
            try:
                Webhook(secret).verify(item["body"].encode(), item["headers"])
                out.append(True)
            except Exception as e:
                print(repr(e), file=sys.stderr)
                out.append(False)
        print(json.dumps(out))
        """
        let input = try JSONSerialization.data(withJSONObject: requests.map { r in
            ["body": String(decoding: r.body, as: UTF8.self), "headers": r.headers] as [String: Any]
        })
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script, secret]
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0, let result = try JSONSerialization.jsonObject(with: out) as? [Bool] else {
            throw TestFailure("standardwebhooks failed: \(String(decoding: err, as: UTF8.self))")
        }
        return result
    }
}
