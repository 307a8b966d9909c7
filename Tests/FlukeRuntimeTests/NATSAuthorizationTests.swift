import CNats
import FlukeModels
import FlukeNATS
import FlukeTestSupport
import Foundation
import Testing

/// The fleet's nats-server runs with `deploy/nats/auth.conf` (as `make test` starts it): these
/// tests act as the attacker the file keeps out, each beside the legitimate user it lets in, so
/// that a test passing because nothing works at all is impossible.
@Suite("NATS users and permissions (deploy/nats/auth.conf)", .needsPostgresAndNATS)
struct NATSAuthorizationTests {
    static func connect(_ user: String, url: String = TestEnvironment.natsURL) async throws -> NATSClient {
        try await NATSClient.connect(
            .init(url: url, name: "authz-" + user, credentials: TestEnvironment.natsCredentials(user),
                  inboxPrefix: "_INBOX." + user, sendAsap: true),
            logger: TestEnvironment.logger, attempts: 1)
    }

    @Test("an anonymous client and a wrong password are refused; a service's own password is accepted")
    func noAnonymousClients() async throws {
        await #expect(throws: NATSError.self) {
            try await NATSClient.connect(.init(url: TestEnvironment.natsURL, name: "anonymous"),
                                         logger: TestEnvironment.logger, attempts: 1)
        }
        do {
            _ = try await NATSClient.connect(
                .init(url: TestEnvironment.natsURL, name: "guess",
                      credentials: .password(user: "project-manager", password: "not-the-password")),
                logger: TestEnvironment.logger, attempts: 1)
            Issue.record("a wrong password was accepted")
        } catch let error as NATSError {
            #expect(error.status == NATS_CONNECTION_AUTH_FAILED.rawValue || error.message.lowercased().contains("authorization"),
                    "\(error)")
        }
        let service = try await Self.connect("webhook-dispatcher")
        #expect(service.state == .connected)
        await service.shutdown()
    }

    @Test("only project-manager may answer fluke.rpc.identity.verify; webhook-dispatcher's user cannot listen in")
    func onlyProjectManagerAnswersIdentity() async throws {
        let impostor = try await Self.connect("webhook-dispatcher")
        let asker = try await Self.connect("context-api")
        let forged = Data(#"{"valid":true,"scopes":["admin"]}"#.utf8)

        // The impostor subscribes and would answer every request with a forged "valid".
        let fake = try impostor.subscribe(IdentityRPC.verifySubject)
        let fakeAnswers = Task {
            for await request in fake { try? await impostor.respond(to: request, payload: forged) }
        }
        try await impostor.flush()
        try await eventually(timeout: .seconds(5), "the server to report the impostor's violation") {
            impostor.lastError?.contains("Permissions Violation") == true
        }
        do {
            let reply = try await asker.request(IdentityRPC.verifySubject, payload: Data(#"{"token":"fbk_x"}"#.utf8),
                                                timeout: .seconds(1))
            Issue.record("the impostor answered: \(String(decoding: reply.payload, as: UTF8.self))")
        } catch let error as NATSError {
            #expect(error.isNoResponders || error.isTimeout)
        }

        // project-manager's user may: the same request is answered.
        let pm = try await Self.connect("project-manager")
        let real = try pm.subscribe(IdentityRPC.verifySubject, queue: IdentityRPC.queueGroup)
        let realAnswers = Task {
            for await request in real { try? await pm.respond(to: request, payload: Data(#"{"valid":false}"#.utf8)) }
        }
        try await pm.flush()
        let reply = try await asker.request(IdentityRPC.verifySubject, payload: Data(#"{"token":"fbk_x"}"#.utf8),
                                            timeout: .seconds(3))
        #expect(String(decoding: reply.payload, as: UTF8.self) == #"{"valid":false}"#)

        fake.cancel(); real.cancel(); fakeAnswers.cancel(); realAnswers.cancel()
        for client in [impostor, asker, pm] { await client.shutdown() }
    }

    @Test("webhook-dispatcher's user cannot publish fluke.events.project.deleted, nor delete the stream; its own events pass")
    func servicesPublishOnlyTheirOwnEvents() async throws {
        let admin = try await NATSClient.connect(.admin(url: TestEnvironment.natsURL, name: "authz-admin"),
                                                 logger: TestEnvironment.logger)
        let collector = try await EventCollector(natsURL: TestEnvironment.natsURL,
                                                 filter: "fluke.events.>")
        let webhooks = try await Self.connect("webhook-dispatcher")
        let marker = UUID().uuidString
        let fakeProject = UUID().uuidString

        // The forged event goes first on the same connection: had it been accepted, the stream
        // would hold it before the marker.
        do {
            _ = try await webhooks.jetStreamPublish("fluke.events.project.deleted",
                                                    payload: Data(#"{"id":"\#(fakeProject)"}"#.utf8), timeout: .seconds(1))
            Issue.record("JetStream acknowledged a forged project.deleted")
        } catch {}
        try await webhooks.publish("fluke.events.project.deleted", payload: Data(#"{"id":"\#(fakeProject)"}"#.utf8))
        try await webhooks.jetStreamPublish("fluke.events.webhook.endpoint.disabled",
                                            payload: Data(#"{"marker":"\#(marker)"}"#.utf8), timeout: .seconds(5))

        var seen: [String] = []
        try await eventually(timeout: .seconds(10), "the marker event") {
            let batch = try await collector.collectRaw(window: .milliseconds(300))
            seen += batch
            return seen.contains { $0.contains(marker) }
        }
        #expect(!seen.contains { $0.contains(fakeProject) }, "a forged project.deleted reached the stream")

        // Deleting the stream through the JetStream API is refused; the stream is still there.
        do {
            _ = try await webhooks.request("$JS.API.STREAM.DELETE." + EventType.streamName, payload: Data(),
                                           timeout: .seconds(1))
            Issue.record("the stream delete request was answered")
        } catch {}
        try await admin.ensureStream(.init(name: EventType.streamName, subjects: [EventType.subjectPrefix + ">"],
                                           maxAge: .seconds(7 * 86_400)))
        let info = try await admin.request("$JS.API.STREAM.INFO." + EventType.streamName, payload: Data(),
                                           timeout: .seconds(3))
        #expect(String(decoding: info.payload, as: UTF8.self).contains(marker) == false)
        #expect(!String(decoding: info.payload, as: UTF8.self).contains("stream not found"))

        await collector.close()
        for client in [admin, webhooks] { await client.shutdown() }
    }

    @Test("the heartbeat user may publish heartbeats and nothing else")
    func heartbeatUserOnlyBeats() async throws {
        let admin = try await NATSClient.connect(.admin(url: TestEnvironment.natsURL, name: "authz-admin"),
                                                 logger: TestEnvironment.logger)
        let listener = try admin.subscribe("fluke.federation.heartbeat.>")
        let events = try admin.subscribe("fluke.events.federation.>")
        try await admin.flush()
        let beats = try await NATSClient.connect(
            .init(url: TestEnvironment.natsURL, name: "beats", credentials: TestEnvironment.natsCredentials("heartbeat")),
            logger: TestEnvironment.logger, attempts: 1)
        try await beats.publish("fluke.events.federation.project.online", payload: Data("forged".utf8))
        try await beats.publish("fluke.federation.heartbeat.alpha", payload: Data("beat".utf8))
        try await beats.flush()
        var iterator = listener.makeAsyncIterator()
        let beat = try #require(await iterator.next())
        #expect(beat.subject == "fluke.federation.heartbeat.alpha")

        // The forged event was published before the heartbeat on the same connection, so it would
        // have reached the admin's subscription first; its subscription must be empty.
        try await admin.publish("fluke.events.federation.marker", payload: Data("marker".utf8))
        var eventIterator = events.makeAsyncIterator()
        let first = try #require(await eventIterator.next())
        #expect(first.subject == "fluke.events.federation.marker")

        // Nor may it listen to anything.
        _ = try beats.subscribe("fluke.events.>")
        try await beats.flush()
        try await eventually(timeout: .seconds(5), "the subscription violation") {
            beats.lastError?.contains("Permissions Violation") == true
        }
        listener.cancel(); events.cancel()
        for client in [admin, beats] { await client.shutdown() }
    }
}
