@testable import DeployExecutors
import Foundation
import FlukeTestSupport
import Testing

/// The process executor against real nginx and real processes (the fixture app): first
/// deploys, rolling updates under load, and failures that leave the old release serving.
@Suite("ProcessExecutor: rollouts behind nginx", .serialized)
struct ProcessExecutorTests {
    @Test("v1 with 3 replicas serves through nginx; rolling to v2 under wrk fails no request")
    func rolling() async throws {
        try await ProcessAppFixture.with { fixture in
            let spec = fixture.spec()
            let v1 = fixture.release(1, spec: spec)
            let artifact = try await fixture.deploy(v1)
            #expect(artifact.reference.hasSuffix("/releases/v1"))
            #expect(try await fixture.served() == "200 v1")
            let first = try await fixture.replicas()
            #expect(first.count == 3 && first.allSatisfy { $0.version == "v1" && $0.state == .healthy })
            #expect(fixture.steps.lines.contains("output: building v1"))
            #expect(fixture.steps.lines.contains { $0.hasPrefix("info: replica") && $0.hasSuffix("is healthy") })

            let load = try WrkLoad(url: try await fixture.url)
            try await fixture.deploy(fixture.release(2, spec: spec), previous: v1)
            let summary = try await load.stop()
            #expect(summary.requests > 0)
            #expect(summary.failures == 0, "\(summary)")
            #expect(try await fixture.served() == "200 v2")
            let second = try await fixture.replicas()
            #expect(second.count == 3 && second.allSatisfy { $0.version == "v2" })
            #expect(Set(second.map(\.id)).isDisjoint(with: first.map(\.id)))
        }
    }

    @Test("a failing build command is a build failure with its exit status and last lines")
    func buildFailure() async throws {
        try await ProcessAppFixture.with { fixture in
            var spec = fixture.spec()
            spec.buildCommand = "echo compiling; echo 'syntax error at line 3' >&2; exit 7"
            let error = await #expect(throws: DeployFailure.self) {
                _ = try await fixture.executor.build(fixture.release(1, spec: spec), log: fixture.steps.log)
            }
            #expect(error?.kind == .build)
            #expect(error?.message.contains("exit 7") == true)
            #expect(error?.message.contains("syntax error at line 3") == true)
            #expect(fixture.steps.lines.contains("output: compiling"))
        }
    }

    @Test("a release whose replicas exit at start, and one never healthy, fail with the old release serving")
    func startupFailures() async throws {
        try await ProcessAppFixture.with { fixture in
            let spec = fixture.spec(replicas: 2)
            let v1 = fixture.release(1, spec: spec)
            let v1Artifact = try await fixture.deploy(v1)
            let before = try await fixture.replicas().map(\.id)

            let exiting = await #expect(throws: DeployFailure.self) {
                try await fixture.deploy(fixture.release(2, spec: spec, mode: "exit"), previous: v1)
            }
            #expect(exiting?.kind == .replicaStartup)
            #expect(try await fixture.served() == "200 v1")
            #expect(try await fixture.replicas().map(\.id) == before)

            let unhealthy = await #expect(throws: DeployFailure.self) {
                try await fixture.deploy(fixture.release(3, spec: spec, mode: "unhealthy"), previous: v1)
            }
            #expect(unhealthy?.kind == .healthCheck)
            #expect(try await fixture.served() == "200 v1")
            let after = try await fixture.replicas()
            #expect(after.map(\.id) == before && after.allSatisfy { $0.state == .healthy })
            #expect(fixture.steps.lines.contains { $0.hasPrefix("warn: replica") && $0.contains("health check 3/3 failed") })

            // The tracker's automatic rollback to v1 finds it serving: nothing restarts.
            try await fixture.executor.rollback(to: v1, artifact: v1Artifact, from: nil, log: fixture.steps.log)
            #expect(try await fixture.replicas().map(\.id) == before)
            #expect(fixture.steps.lines.contains { $0.contains("v1 serves already") })
        }
    }

    @Test("a rollout cancelled part-way (a deploy timeout) stops its new replicas; the old release serves on")
    func cancelled() async throws {
        try await ProcessAppFixture.with { fixture in
            let spec = fixture.spec(replicas: 2)
            let v1 = fixture.release(1, spec: spec)
            try await fixture.deploy(v1)
            let before = try await fixture.replicas().map(\.id)

            // v2 never gets healthy and has a long start period: the rollout waits until cancelled.
            var slow = spec
            slow.healthCheck.startPeriod = 300
            let v2 = fixture.release(2, spec: slow, mode: "unhealthy")
            let artifact = try await fixture.executor.build(v2, log: fixture.steps.log)
            let rollout = Task { try await fixture.executor.deploy(v2, artifact: artifact, previous: v1, log: fixture.steps.log) }
            try await eventually(timeout: .seconds(30), "a v2 replica started") {
                try await fixture.replicas().contains { $0.version == "v2" }
            }
            rollout.cancel()
            await #expect(throws: CancellationError.self) { try await rollout.value }
            #expect(try await fixture.replicas().map(\.id) == before)
            #expect(try await fixture.served() == "200 v1")
        }
    }

    @Test("canary weights give the new set its share; access-log lines count per upstream")
    func canaryArithmetic() {
        let members = ProcessExecutor.canaryMembers(old: ["a", "b", "c"], new: ["x", "y", "z"], percent: 10)
        let new = members.filter { ["x", "y", "z"].contains($0.id) }.map(\.weight).reduce(0, +)
        let total = members.map(\.weight).reduce(0, +)
        #expect(Double(new) / Double(total) == 0.1)
        #expect(ProcessExecutor.canaryMembers(old: ["a"], new: ["x"], percent: 100).map(\.id) == ["x"])

        let retried = "1.0\t127.0.0.1:21001, 127.0.0.1:21002\t500\t502, 500".split(separator: "\t", omittingEmptySubsequences: false)
        #expect(NginxAccessLog.lastUpstream(retried)?.address == "127.0.0.1:21002")
        #expect(NginxAccessLog.lastUpstream(retried)?.status == 500)
    }

    @Test("the access log is counted incrementally, per upstream, whole lines only")
    func accessLogTally() throws {
        let path = TestEnvironment.workDir + "/access-" + UUID().uuidString.prefix(8) + ".log"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "1\t127.0.0.1:1\t200\t200\n2\t127.0.0.1:2\t500\t500\n3\t127.0.0.1:2\t200\t200\n4\t127.0.0.1:2\t5"
            .write(toFile: path, atomically: false, encoding: .utf8)
        let log = NginxAccessLog(path: path)
        var tally = NginxAccessLog.Tally()
        let offset = log.count(into: &tally, since: 0, upstreams: ["127.0.0.1:2"])
        #expect(tally == .init(requests: 2, errors: 1))
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("02\t502\n".utf8))
        try handle.close()
        _ = log.count(into: &tally, since: offset, upstreams: ["127.0.0.1:2"])
        #expect(tally == .init(requests: 3, errors: 2))
    }
}
