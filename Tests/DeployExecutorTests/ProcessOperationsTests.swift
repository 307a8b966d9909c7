@testable import DeployExecutors
import Foundation
import FlukeTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Hooks, validation, scale, restart, the apps' output and `DEPLOY_PROCESS_USER` on the process
/// executor.
@Suite("ProcessExecutor: hooks, scale, restart, logs", .serialized)
struct ProcessOperationsTests {
    @Test("a failing hook is a validation failure before the rollout and a hook failure after it")
    func hooks() async throws {
        try await ProcessAppFixture.with { fixture in
            let release = fixture.release(1, spec: fixture.spec())
            try await fixture.executor.runHook("pre_build", command: "test -f app.py && echo found",
                                               release: release, log: fixture.steps.log)
            #expect(fixture.steps.lines.contains("output: found"))
            let before = await #expect(throws: DeployFailure.self) {
                try await fixture.executor.runHook("pre_deploy", command: "echo 'missing table' >&2; exit 2",
                                                   release: release, log: fixture.steps.log)
            }
            #expect(before?.kind == .validation && before?.message.contains("missing table") == true)
            let after = await #expect(throws: DeployFailure.self) {
                try await fixture.executor.runHook("post_deploy", command: "exit 1", release: release, log: fixture.steps.log)
            }
            #expect(after?.kind == .hook)
        }
    }

    @Test("validate reports nginx, the commands, the data directory and a start program that is not there")
    func validate() async throws {
        try await ProcessAppFixture.with { fixture in
            let good = await fixture.executor.validate(fixture.release(1, spec: fixture.spec()))
            #expect(good.allSatisfy { $0.ok }, "\(good)")
            #expect(Set(good.map(\.name)) == ["nginx", "build_command", "start_command", "data_directory"])
            var spec = fixture.spec()
            spec.buildCommand = nil
            spec.startCommand = "./bin/missing --port $PORT"
            let bad = await fixture.executor.validate(fixture.release(1, spec: spec))
            #expect(bad.filter { !$0.ok }.map(\.name).sorted() == ["build_command", "start_program"])
        }
    }

    @Test("scale up and down through the upstream, a rolling restart, and every replica's output followed")
    func scaleRestartLogs() async throws {
        try await ProcessAppFixture.with { fixture in
            try await fixture.deploy(fixture.release(1, spec: fixture.spec(replicas: 1)))
            let lines = StepLog()
            let follower = Task {
                try await fixture.executor.followLogs(tenantID: fixture.tenantID, app: fixture.app, since: .distantPast) {
                    await lines.log.output("\($0.replica) \($0.text)", $0.stream)
                }
            }
            defer { follower.cancel() }

            try await fixture.executor.scale(tenantID: fixture.tenantID, app: fixture.app, replicas: 3, log: fixture.steps.log)
            let three = try await fixture.replicas()
            #expect(three.count == 3 && three.allSatisfy { $0.state == .healthy && $0.version == "v1" })
            #expect(try await fixture.served() == "200 v1")
            try await fixture.executor.scale(tenantID: fixture.tenantID, app: fixture.app, replicas: 2, log: fixture.steps.log)
            let two = try await fixture.replicas()
            #expect(two.count == 2)
            #expect(fixture.steps.lines.contains("info: web scaled from 3 to 2 replicas"))

            try await fixture.executor.restart(tenantID: fixture.tenantID, app: fixture.app, log: fixture.steps.log)
            let restarted = try await fixture.replicas()
            #expect(restarted.count == 2 && Set(restarted.map(\.id)).isDisjoint(with: two.map(\.id)))
            #expect(try await fixture.served() == "200 v1")

            // Replicas started after the follower began are followed too.
            try await eventually(timeout: .seconds(20), "every replica's first line") {
                let seen = lines.lines
                return restarted.allSatisfy { replica in seen.contains { $0.hasPrefix("output: \(replica.id) v1 listening on") } }
            }
        }
    }

    @Test("several apps rolling out at once each get a port of their own and serve (reloads coalesced)")
    func concurrentApps() async throws {
        try await ProcessAppFixture.with { fixture in
            let names = (1...6).map { "app-\($0)" }
            let releases = try await withThrowingTaskGroup(of: ReleaseInput.self) { group in
                for name in names {
                    group.addTask {
                        var release = fixture.release(1, spec: fixture.spec(replicas: 1))
                        release.app = name
                        let artifact = try await fixture.executor.build(release, log: .discarding)
                        try await fixture.executor.deploy(release, artifact: artifact, previous: nil, log: .discarding)
                        return release
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            var urls: Set<String> = []
            for release in releases {
                let url = try #require(await fixture.executor.url(tenantID: fixture.tenantID, app: release.app))
                urls.insert(url)
                let reply = try await HTTP.get(url + "/", timeout: 5)
                #expect(reply.status == 200 && String(decoding: reply.body, as: UTF8.self).hasPrefix("v1"))
            }
            #expect(urls.count == names.count)
            for name in names { try await fixture.executor.remove(tenantID: fixture.tenantID, app: name) }
            #expect(await fixture.executor.url(tenantID: fixture.tenantID, app: names[0]) == nil)
        }
    }

    @Test("the configuration from the tracker's settings")
    func configuration() {
        let set = ProcessExecutor.Configuration(environment: ["DEPLOY_DATA_DIR": "/var/lib/fleet/deploy",
                                                              "DEPLOY_PROCESS_USER": "apps"])
        #expect(set.dataDirectory.path == "/var/lib/fleet/deploy" && set.processUser == "apps")
        #expect(set.appPortRange == 20000...20999 && set.replicaPortRange == 21000...29999)
        #expect(set.stopGrace == .seconds(10))
        let unset = ProcessExecutor.Configuration(environment: ["DEPLOY_PROCESS_USER": ""])
        #expect(unset.processUser == nil && unset.dataDirectory.lastPathComponent == ".deploy-data")
    }

    @Test("a followed output file cut back to empty (the size cap) is read again from its start")
    func truncatedOutput() throws {
        let path = TestEnvironment.workDir + "/line-reader-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "one\ntwo\npart".write(toFile: path, atomically: false, encoding: .utf8)
        let reader = try LineReader(path: path)
        #expect(reader.newLines() == ["one", "two"])
        truncate(path, 0)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.write(contentsOf: Data("three\n".utf8))
        try handle.close()
        #expect(reader.newLines() == ["three"])
    }

    // Switching users needs root, as deploy-tracker has when DEPLOY_PROCESS_USER is set.
    @Test("with DEPLOY_PROCESS_USER the build and the replicas run as that user", .enabled(if: geteuid() == 0))
    func processUser() async throws {
        try await ProcessAppFixture.with(processUser: "nobody") { fixture in
            var spec = fixture.spec(replicas: 1)
            spec.buildCommand = "id -un > builder.txt; printf v1 > version.txt"
            let artifact = try await fixture.deploy(fixture.release(1, spec: spec))
            let builder = try String(contentsOfFile: artifact.reference + "/builder.txt", encoding: .utf8)
            #expect(builder.trimmingCharacters(in: .whitespacesAndNewlines) == "nobody")
            let replica = try #require(try await fixture.replicas().first)
            let status = try String(contentsOfFile: "/proc/\(try fixture.pid(of: replica.id))/status", encoding: .utf8)
            #expect(status.contains("Uid:\t65534\t"))
            #expect(try await fixture.served() == "200 v1")
        }
    }
}
