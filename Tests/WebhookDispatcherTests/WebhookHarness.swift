import ContextAPI
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FleetTestServices
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
struct WebhookHarness: ServiceHarnessWrapping {
    var fleet: ServiceHarness

    init(privatePostgres: Bool = false) async throws {
        fleet = try await ServiceHarness(
            migrating: [PMMigrations.migrator, ContextMigrations.migrator, WebhookMigrations.migrator],
            fleetSettings: ["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys, "FLUKE_ENCRYPTION_KEY": ServiceSettings.encryptionKey],
            privatePostgres: privatePostgres)
    }

    func webhookEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
        fleet.environment(for: .webhookDispatcher, overrides)
    }

    func withProjectManager<T: Sendable>(_ body: @escaping @Sendable (JSONClient) async throws -> T) async throws -> T {
        try await fleet.run(.projectManager) { client, _ in try await body(JSONClient(client: client)) }
    }

    func withDispatcher<T: Sendable>(_ overrides: [String: String] = [:], logger: Logger = TestEnvironment.logger,
                                     _ body: @escaping @Sendable (JSONClient, WebhookParts) async throws -> T) async throws -> T {
        try await fleet.run(.webhookDispatcher, overrides, logger: logger) { client, parts in
            try await body(JSONClient(client: client), parts)
        }
    }

    /// Runs context-api, with its defaults and `overrides`, while `body` runs.
    func withContextAPI<T: Sendable>(_ overrides: [String: String] = [:],
                                     _ body: @escaping @Sendable (JSONClient) async throws -> T) async throws -> T {
        try await fleet.run(.contextAPI, overrides) { client, _ in try await body(JSONClient(client: client)) }
    }

    typealias World = TenantWorld

    static func world(_ pm: JSONClient, scopes: [String] = ["webhooks:manage", "context:read", "context:write", "secrets:read"])
        async throws -> World {
        try await TenantWorld.make(pm, scopes: scopes, project: ["name": "Hooks", "stage": "mvp"], tokenName: "hooks")
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

extension JSONClient {
    /// Creates a subscription and returns its reply.
    func subscribe(_ token: String, project: String, url: String, events: [String] = ["*"], extra: [String: Any] = [:])
        async throws -> JSONReply {
        var body: [String: Any] = ["project_id": project, "callback_url": url, "events": events]
        body.merge(extra) { _, b in b }
        return try await call(.post, "/api/v1/webhooks/subscriptions", token: token, json: body)
    }
}
