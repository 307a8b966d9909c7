@testable import DeployExecutors
import Foundation
import FlukeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The supervisor: crashed replicas come back, and a new executor on the same data directory
/// (deploy-tracker after a `kill -9`) adopts nginx and the replicas as they run.
@Suite("ProcessExecutor: supervision and adoption", .serialized)
struct ProcessSupervisionTests {
    @Test("a replica killed with SIGKILL is restarted on its port, its restarts counted")
    func crashedReplicaRestarts() async throws {
        try await ProcessAppFixture.with { fixture in
            try await fixture.deploy(fixture.release(1, spec: fixture.spec(replicas: 2)))
            fixture.supervise()
            let victim = try #require(try await fixture.replicas().first)
            let oldPID = try fixture.pid(of: victim.id)
            #expect(kill(oldPID, SIGKILL) == 0)

            try await eventually(timeout: .seconds(30), "the replica restarted and healthy") {
                let replica = try await fixture.replicas().first { $0.id == victim.id }
                return replica?.restarts == 1 && replica?.state == .healthy
            }
            #expect(try fixture.pid(of: victim.id) != oldPID)
            let direct = try await HTTP.get("http://\(try #require(victim.address))/", timeout: 5)
            #expect(String(decoding: direct.body, as: UTF8.self).hasPrefix("v1"))
            #expect(try await fixture.served() == "200 v1")
        }
    }

    @Test("a second executor on the same data directory adopts the running replicas and nginx")
    func adoption() async throws {
        try await ProcessAppFixture.with { fixture in
            let v1 = fixture.release(1, spec: fixture.spec(replicas: 2))
            try await fixture.deploy(v1)
            let running = try await fixture.replicas()
            let url = try await fixture.url

            let successor = try ProcessExecutor(configuration: fixture.configuration)
            #expect(await successor.url(tenantID: fixture.tenantID, app: fixture.app) == url)
            let adopted = try await successor.replicas(tenantID: fixture.tenantID, app: fixture.app)
            #expect(adopted.map(\.id) == running.map(\.id))
            #expect(adopted.allSatisfy { $0.state != .crashed && $0.state != .stopped })

            // The successor restarts an adopted replica with the environment it had (read from /proc).
            fixture.supervise(successor)
            let victim = try #require(running.first)
            #expect(kill(try fixture.pid(of: victim.id), SIGKILL) == 0)
            try await eventually(timeout: .seconds(30), "the adopted replica restarted") {
                let replica = try await successor.replicas(tenantID: fixture.tenantID, app: fixture.app)
                    .first { $0.id == victim.id }
                return replica?.restarts == 1 && replica?.state == .healthy
            }
            // And rolls the app forward through the nginx it adopted.
            let v2 = fixture.release(2, spec: fixture.spec(replicas: 2))
            let artifact = try await successor.build(v2, log: fixture.steps.log)
            try await successor.deploy(v2, artifact: artifact, previous: v1, log: fixture.steps.log)
            #expect(try await fixture.served() == "200 v2")
            try await successor.remove(tenantID: fixture.tenantID, app: fixture.app)
        }
    }
}
