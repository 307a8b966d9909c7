@testable import DeployExecutors
import Foundation
import FlukeTestSupport
import Testing

/// Blue-green and canary on the process executor, real nginx and processes, wrk throughout.
@Suite("ProcessExecutor: blue-green and canary", .serialized)
struct ProcessStrategyTests {
    @Test("blue-green switches in one reload with no failed request; a rollback in the window starts nothing")
    func blueGreen() async throws {
        try await ProcessAppFixture.with { fixture in
            let spec = fixture.spec(strategy: .init(type: .blueGreen, rollbackWindow: 300))
            let v1 = fixture.release(1, spec: spec)
            let v1Artifact = try await fixture.deploy(v1)
            let blue = try await fixture.replicas().map(\.id)

            let load = try WrkLoad(url: try await fixture.url)
            let v2 = fixture.release(2, spec: spec)
            try await fixture.deploy(v2, previous: v1)
            let summary = try await load.stop()
            #expect(summary.requests > 0 && summary.failures == 0, "\(summary)")
            #expect(try await fixture.served() == "200 v2")
            // The blue set still runs, out of the upstream, for the window.
            let both = try await fixture.replicas()
            #expect(both.filter { $0.version == "v1" }.map(\.id).sorted() == blue.sorted())
            #expect(both.filter { $0.version == "v2" }.count == 3)

            try await fixture.executor.rollback(to: v1, artifact: v1Artifact, from: v2, log: fixture.steps.log)
            #expect(try await fixture.served() == "200 v1")
            let after = try await fixture.replicas()
            #expect(after.map(\.id).sorted() == blue.sorted())
            #expect(after.allSatisfy { $0.restarts == 0 })
            #expect(fixture.steps.lines.contains { $0.contains("nothing started") })
        }
    }

    @Test("canary steps 10 → 50 → 100 % finish with no failed request; a canary answering 5xx is aborted")
    func canary() async throws {
        try await ProcessAppFixture.with { fixture in
            let spec = fixture.spec(strategy: .init(type: .canary, steps: [10, 50, 100], pause: 2, maxErrorRatio: 0.05))
            let v1 = fixture.release(1, spec: spec)
            try await fixture.deploy(v1)

            let load = try WrkLoad(url: try await fixture.url)
            let v2 = fixture.release(2, spec: spec)
            try await fixture.deploy(v2, previous: v1)
            let summary = try await load.stop()
            #expect(summary.requests > 0 && summary.failures == 0, "\(summary)")
            #expect(try await fixture.served() == "200 v2")
            for percent in [10, 50, 100] {
                #expect(fixture.steps.lines.contains("info: canary v2 takes \(percent) % of the traffic"))
            }
            let serving = try await fixture.replicas()
            #expect(serving.count == 3 && serving.allSatisfy { $0.version == "v2" })

            // The broken canary answers 500 on / (its /health is fine): only the access log tells.
            let traffic = try WrkLoad(url: try await fixture.url)
            let error = await #expect(throws: DeployFailure.self) {
                try await fixture.deploy(fixture.release(3, spec: spec, mode: "error"), previous: v2)
            }
            _ = try await traffic.stop()
            #expect(error?.kind == .healthCheck)
            #expect(error?.message.contains("5xx") == true)
            #expect(try await fixture.served() == "200 v2")
            #expect(try await fixture.replicas().map(\.id) == serving.map(\.id))
        }
    }
}
