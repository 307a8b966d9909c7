@testable import ContextAPI
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FleetTestServices
import FlukeTestSupport
import Foundation
import Logging
import Testing

/// `fluke.rpc.context.env`: deploy-tracker asks context-api for a project's decrypted env vars,
/// over the harness's nats-server running `deploy/nats/auth.conf`.
@Suite("context-api: env vars for deploys (fluke.rpc.context.env)", .needsPostgresAndNATS)
struct EnvRPCTests {
    static func connect(_ user: String, _ h: ContextHarness) async throws -> NATSClient {
        try await NATSClient.connect(
            .init(url: h.nats.url, name: "env-rpc-" + user, credentials: TestEnvironment.natsCredentials(user),
                  inboxPrefix: "_INBOX." + user, sendAsap: true),
            logger: TestEnvironment.logger, attempts: 1)
    }

    static func ask(_ client: NATSClient, _ request: ContextEnvRPC.Request) async throws -> ContextEnvRPC.Reply {
        try await ask(client, try JSONEncoder().encode(request))
    }

    static func ask(_ client: NATSClient, _ payload: Data) async throws -> ContextEnvRPC.Reply {
        let reply = try await client.request(ContextEnvRPC.subject, payload: payload, timeout: .seconds(10))
        return try JSONDecoder().decode(ContextEnvRPC.Reply.self, from: reply.payload)
    }

    static func put(_ api: Client, _ w: ContextHarness.World, _ key: String, _ value: String, secret: Bool,
                    _ environment: String) async throws {
        let r = try await api.call(.put, "/api/v1/projects/\(w.projectID)/env/\(key)", token: w.token,
                                   json: ["value": value, "secret": secret, "environment": environment])
        try #require(r.status == 201, "\(r.json)")
    }

    @Test("deploy-tracker gets one environment's values decrypted, never another project's or tenant's; each secret read is logged via deploy, values never")
    func deployTrackerReadsDecryptedValues() async throws {
        let h = try await ContextHarness()
        let logs = LogCapture(level: .trace)
        try await h.withProjectManager { pm in
            let a = try await ContextHarness.world(pm, tenant: "Acme")
            let b = try await ContextHarness.world(pm, tenant: "Globex")
            try await h.fleet.run(.contextAPI, logger: logs.logger()) { client, _ in
                let api = Client(client: client)
                _ = try await api.context(a.token)
                _ = try await api.context(b.token)
                try await Self.put(api, a, "DATABASE_URL", "postgres://a-prod-secret", secret: true, "production")
                try await Self.put(api, a, "LOG_LEVEL", "info", secret: false, "production")
                try await Self.put(api, a, "DATABASE_URL", "postgres://a-staging-secret", secret: true, "staging")
                try await Self.put(api, b, "DATABASE_URL", "postgres://b-prod-secret", secret: true, "production")

                let tracker = try await Self.connect("deploy-tracker", h)
                let tenantA = try #require(UUID(uuidString: a.tenantID)), projectA = try #require(UUID(uuidString: a.projectID))
                let tenantB = try #require(UUID(uuidString: b.tenantID)), projectB = try #require(UUID(uuidString: b.projectID))
                let deployment = UUID()
                let production = try await Self.ask(tracker, .init(tenantID: tenantA, projectID: projectA, environment: "production",
                                                                   deploymentID: deployment, app: "web"))
                #expect(production == .init(variables: ["DATABASE_URL": "postgres://a-prod-secret", "LOG_LEVEL": "info"]))
                let staging = try await Self.ask(tracker, .init(tenantID: tenantA, projectID: projectA, environment: "staging"))
                #expect(staging == .init(variables: ["DATABASE_URL": "postgres://a-staging-secret"]))
                let development = try await Self.ask(tracker, .init(tenantID: tenantA, projectID: projectA, environment: "development"))
                #expect(development == .init(variables: [:]))
                // Another tenant's project, named with this tenant: as if it did not exist.
                let crossed = try await Self.ask(tracker, .init(tenantID: tenantA, projectID: projectB, environment: "production"))
                #expect(crossed.variables == nil && crossed.error == "no such project")
                let other = try await Self.ask(tracker, .init(tenantID: tenantB, projectID: projectB, environment: "production"))
                #expect(other == .init(variables: ["DATABASE_URL": "postgres://b-prod-secret"]))

                let log = try await api.call(.get, "/api/v1/projects/\(a.projectID)/env/access-log", token: a.token)
                let deploys = log.items.filter { $0["via"] as? String == "deploy" }
                #expect(deploys.count == 2, "\(log.items)")
                let first = try #require(deploys.first { $0["deployment_id"] as? String == deployment.lowercased })
                #expect(first["key"] as? String == "DATABASE_URL" && first["environment"] as? String == "production")
                #expect(first["actor_user_id"] == nil && first["actor_token_id"] == nil)
                #expect(deploys.contains { $0["environment"] as? String == "staging" && $0["deployment_id"] == nil })
                let logB = try await api.call(.get, "/api/v1/projects/\(b.projectID)/env/access-log", token: b.token)
                #expect(logB.items.filter { $0["via"] as? String == "deploy" }.count == 1)

                #expect(logs.logged.contains { $0.message == "env variables handed to a deploy" })
                let written = logs.logged.map { "\($0.message) \($0.metadata)" }.joined(separator: "\n")
                #expect(!written.contains("a-prod-secret") && !written.contains("a-staging-secret"))
                await tracker.shutdown()
            }
        }
    }

    @Test("an unknown project, environment or a malformed request is an error reply")
    func errors() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, _ in
                _ = try await api.context(w.token)
                let tracker = try await Self.connect("deploy-tracker", h)
                let tenant = try #require(UUID(uuidString: w.tenantID)), project = try #require(UUID(uuidString: w.projectID))
                let unknown = try await Self.ask(tracker, .init(tenantID: tenant, projectID: UUID(), environment: "production"))
                #expect(unknown.variables == nil && unknown.error == "no such project")
                let qa = try await Self.ask(tracker, .init(tenantID: tenant, projectID: project, environment: "qa"))
                #expect(qa.variables == nil && qa.error?.contains("environment") == true)
                let malformed = try await Self.ask(tracker, Data(#"{"tenant_id":"nope"}"#.utf8))
                #expect(malformed.variables == nil && malformed.error?.hasPrefix("malformed") == true)
                let known = try await Self.ask(tracker, .init(tenantID: tenant, projectID: project, environment: "production"))
                #expect(known == .init(variables: [:]))
                // More than one NATS message can carry: said so, rather than left to time out.
                for i in 0..<34 {
                    try await Self.put(api, w, "BLOB_\(i)", String(repeating: "x", count: EnvStore.maxValueBytes), secret: false,
                                       "staging")
                }
                let large = try await Self.ask(tracker, .init(tenantID: tenant, projectID: project, environment: "staging"))
                #expect(large.variables == nil && large.error?.contains("1 MiB") == true, "\(String(describing: large.error))")
                await tracker.shutdown()
            }
        }
    }

    @Test("only deploy-tracker's user may ask: webhook-dispatcher's and admin's requests are refused by nats-server")
    func othersAreRefused() async throws {
        let h = try await ContextHarness()
        try await h.withProjectManager { pm in
            let w = try await ContextHarness.world(pm)
            try await h.withContextAPI { api, _ in
                _ = try await api.context(w.token)
                try await Self.put(api, w, "API_KEY", "sk-live-secret", secret: true, "production")
                let request = ContextEnvRPC.Request(tenantID: try #require(UUID(uuidString: w.tenantID)),
                                                    projectID: try #require(UUID(uuidString: w.projectID)),
                                                    environment: "production")
                let payload = try JSONEncoder().encode(request)
                let webhooks = try await Self.connect("webhook-dispatcher", h)
                let admin = try await h.natsClient()
                for client in [webhooks, admin] {
                    do {
                        let reply = try await client.request(ContextEnvRPC.subject, payload: payload, timeout: .seconds(2))
                        Issue.record("answered: \(String(decoding: reply.payload, as: UTF8.self))")
                    } catch let error as NATSError {
                        #expect(error.isTimeout || error.isNoResponders, "\(error)")
                    }
                    try await eventually(timeout: .seconds(5), "nats-server reports the violation") {
                        client.lastError?.contains("Permissions Violation") == true
                    }
                }
                // The same request from deploy-tracker's user is answered: the refusal is the permission's.
                let tracker = try await Self.connect("deploy-tracker", h)
                #expect(try await Self.ask(tracker, payload) == .init(variables: ["API_KEY": "sk-live-secret"]))
                let log = try await api.call(.get, "/api/v1/projects/\(w.projectID)/env/access-log", token: w.token)
                #expect(log.items.filter { $0["via"] as? String == "deploy" }.count == 1)
                for client in [webhooks, admin, tracker] { await client.shutdown() }
            }
        }
    }
}
