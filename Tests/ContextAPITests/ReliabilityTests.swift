@testable import ContextAPI
import FlukeModels
import FlukeNATS
import FlukeRuntime
import FlukeTestSupport
import Foundation
import Synchronization
import Testing

@Suite("context-api reliability", .needsPostgresAndNATS)
struct ReliabilityTests {
    @Test("kill -9 during a burst of writes: after a restart every write that got a 2xx has its event on FLUKE_EVENTS, exactly once")
    func killDuringBurst() async throws {
        let h = try await ContextHarness()
        var env = h.contextEnvironment
        let port = freePort()
        env["HTTP_PORT"] = String(port)
        let base = "http://127.0.0.1:\(port)"
        // The project reaches the replica as project-manager would send it: an event on the stream.
        let nats = try await NATSClient.connect(.admin(url: h.nats.url, name: "test"), logger: TestEnvironment.logger)
        try await nats.ensureStream(FleetRuntime.eventStream(maxBytes: 1 << 30))
        let tenant = UUID(), user = UUID(), project = UUID()
        let created = CloudEvent(source: "project-manager", type: .projectCreated, tenantID: tenant.lowercased,
                                 projectID: project.lowercased,
                                 data: .object(["id": .string(project.lowercased), "name": .string("Burst"), "stage": .string("mvp")]))
        _ = try await nats.jetStreamPublish(created.subject, payload: try FleetJSON.encoder.encode(created), messageID: created.id)
        // A session JWT: verified locally, so project-manager need not run.
        let signer = TestKeys.authenticator(resolver: IdentityClient(nats: nats, logger: TestEnvironment.logger))
        let jwt = try signer.sign(AccessClaims(userID: user, tenantID: tenant, role: .member, issuedAt: Date(), lifetime: 900))
        let headers = ["Authorization": "Bearer \(jwt)"]
        let url = base + "/api/v1/flukebase_connect/memories?project_id=\(project.lowercased)"

        var process = try ServiceProcess(executable: "context-api", environment: env)
        try await eventually(timeout: .seconds(30), "context-api serves the project") {
            (try? await HTTP.get(base + "/api/v1/flukebase_connect/context?project_id=\(project.lowercased)", headers: headers).status) == 200
        }
        // The burst: 6 writers; the process is killed once 150 writes were acknowledged.
        final class Acknowledged: Sendable { let ids = Mutex<[String]>([]) }
        let acknowledged = Acknowledged()
        let victim = process
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    for _ in 0..<200 {
                        let external = UUID().uuidString.lowercased()
                        let body = try! JSONSerialization.data(withJSONObject: [
                            "external_id": external, "memory_type": "fact", "content": "burst \(external)"])
                        guard let reply = try? await HTTP.send("POST", url, headers: headers, json: body, timeout: 2) else { return }
                        if (200..<300).contains(reply.status) {
                            let n = acknowledged.ids.withLock { $0.append(external); return $0.count }
                            if n == 150 { victim.signal(SIGKILL) }
                        }
                    }
                }
            }
        }
        _ = await process.waitForExit(timeout: .seconds(10))
        let acked = acknowledged.ids.withLock { $0 }
        #expect(acked.count >= 150)

        process = try ServiceProcess(executable: "context-api", environment: env)
        try await eventually(timeout: .seconds(30), "context-api is back") {
            (try? await HTTP.get(base + "/ready").status) == 200
        }
        // Everything on the stream, read back by a consumer of its own.
        let collector = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.memory.synced")
        var counts: [String: Int] = [:]
        try await eventually(timeout: .seconds(20), "every acknowledged write has its event") {
            for event in try await collector.collect(window: .milliseconds(500)) {
                if case .string(let external)? = event.data["external_id"] { counts[external, default: 0] += 1 }
            }
            return acked.allSatisfy { counts[$0] != nil }
        }
        let missing = acked.filter { counts[$0] == nil }
        let repeated = counts.filter { $0.value > 1 }
        #expect(missing.isEmpty, "\(missing.count) acknowledged writes have no event")
        #expect(repeated.isEmpty, "\(repeated.count) events published twice")
        process.signal(SIGTERM)
        #expect(await process.waitForExit(timeout: .seconds(15)) == 0)
        await collector.close()
        await nats.shutdown()
    }
}
