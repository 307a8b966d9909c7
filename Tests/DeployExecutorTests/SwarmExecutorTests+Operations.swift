@testable import DeployExecutors
import FlukeModels
import Foundation
import Synchronization
import Testing

extension SwarmExecutorTests {
    @Test("scale sets Replicas, restart bumps ForceUpdate and replaces every task, remove deletes the service")
    func scaleRestartRemove() async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: .discarding)
            try await executor.scale(tenantID: Self.tenant, app: "web", replicas: 3, log: .discarding)
            #expect(engine.service(named: Self.serviceName)?.spec["Mode"]?["Replicated"]?["Replicas"]?.engineNumber == 3)
            let scaled = try await executor.replicas(tenantID: Self.tenant, app: "web")
            #expect(scaled.count == 3 && scaled.allSatisfy { $0.state == .running })

            let before = Set(engine.tasks(ofService: Self.serviceName).filter { $0.state == "running" }.map(\.id))
            try await executor.restart(tenantID: Self.tenant, app: "web", log: .discarding)
            #expect(engine.service(named: Self.serviceName)?.spec["TaskTemplate"]?["ForceUpdate"]?.engineNumber == 1)
            let after = Set(engine.tasks(ofService: Self.serviceName).filter { $0.state == "running" }.map(\.id))
            #expect(after.count == 3 && after.isDisjoint(with: before))

            try await executor.remove(tenantID: Self.tenant, app: "web")
            #expect(engine.service(named: Self.serviceName) == nil)
            #expect(try await executor.replicas(tenantID: Self.tenant, app: "web").isEmpty)
            #expect(await executor.url(tenantID: Self.tenant, app: "web") == nil)
            try await executor.remove(tenantID: Self.tenant, app: "web")
            let failure = await #expect(throws: DeployFailure.self) {
                try await executor.scale(tenantID: Self.tenant, app: "web", replicas: 1, log: .discarding)
            }
            #expect(failure?.kind == .executor)
        }
    }

    @Test("hooks run as one-completion swarm jobs; a failed task fails the hook; the job is removed")
    func hooksAsJobs() async throws {
        try await Self.withEngine(.tcp) { engine, executor in
            let log = SwarmLogRecorder()
            try await executor.runHook("pre_deploy", command: "./migrate up", release: Self.release(1), log: log.log)
            #expect(log.output.contains { $0.contains("ran: /bin/sh -c ./migrate up") })
            let requests = engine.requests
            #expect(requests.filter { $0 == "POST /services/create" }.count == 1, "\(requests)")
            let jobs = engine.removedServices.filter { $0.hasPrefix(Self.serviceName + "-pre-deploy-") }
            #expect(jobs.count == 1 && engine.serviceNames.isEmpty)

            engine.failJobs(containing: "exit 3")
            for (phase, kind) in [("post_deploy", DeployFailure.Kind.hook), ("pre_build", .validation)] {
                let failure = await #expect(throws: DeployFailure.self) {
                    try await executor.runHook(phase, command: "./smoke; exit 3", release: Self.release(1), log: .discarding)
                }
                #expect(failure?.kind == kind && failure?.message.contains("non-zero exit (1)") == true)
            }
            #expect(engine.serviceNames.isEmpty && engine.removedServices.count == 3)
        }
    }

    @Test("a job's spec: ReplicatedJob with one completion, the release image, /bin/sh -c, no restarts")
    func jobSpec() throws {
        let executor = try SwarmExecutor(configuration: .init(dockerHost: "tcp://127.0.0.1:2375"))
        let spec = executor.jobSpec("pre_deploy", command: "./migrate", release: Self.release(4), image: "registry.local/web:4")
        let json = try JSONDecoder().decode(JSONValue.self, from: DockerEngine.encoder.encode(spec))
        #expect(json["Mode"] == .object(["ReplicatedJob": .object(["MaxConcurrent": .number(1), "TotalCompletions": .number(1)])]))
        #expect(json["TaskTemplate"]?["ContainerSpec"]?["Command"] == .array(["/bin/sh", "-c", "./migrate"].map { .string($0) }))
        #expect(json["TaskTemplate"]?["RestartPolicy"]?["Condition"]?.stringValue == "none")
        #expect(json["Labels"]?["fluke.hook"]?.stringValue == "pre_deploy")
        #expect(json["Labels"]?["fluke.app"]?.stringValue == "web")
    }

    @Test("followLogs reads frames cut across chunks, one line each, until the service is gone")
    func followLogsAcrossChunks() async throws {
        try await Self.withEngine(.unixSocket) { engine, executor in
            try await executor.deploy(Self.release(1), artifact: .init(reference: "registry.local/web:1"), previous: nil,
                                      log: .discarding)
            engine.splitLogWrites(every: 5)
            engine.appendLog(service: Self.serviceName, "listening on 8080")
            engine.appendLog(service: Self.serviceName, "warning: cache cold", stream: 2)
            let lines = Mutex<[AppLogLine]>([])
            let follower = Task {
                try await executor.followLogs(tenantID: Self.tenant, app: "web", since: nil) { line in
                    lines.withLock { $0.append(line) }
                }
            }
            try await Self.waitUntil { lines.withLock { $0.count } >= 2 }
            engine.appendLog(service: Self.serviceName, "GET /health 200")
            try await Self.waitUntil { lines.withLock { $0.count } >= 3 }
            // A follower cancelled stops with CancellationError, whatever the stream was doing.
            let cancelled = Task {
                try await executor.followLogs(tenantID: Self.tenant, app: "web", since: nil) { _ in }
            }
            try await Task.sleep(for: .milliseconds(50))
            cancelled.cancel()
            await #expect(throws: CancellationError.self) { try await cancelled.value }

            let taskIDs = Set(engine.tasks(ofService: Self.serviceName).map(\.id))
            try await executor.remove(tenantID: Self.tenant, app: "web")
            try await follower.value
            let got = lines.withLock { $0 }
            #expect(got.map(\.text) == ["listening on 8080", "warning: cache cold", "GET /health 200"])
            #expect(got.map(\.stream) == ["stdout", "stderr", "stdout"])
            #expect(Set(got.map(\.replica)).isSubset(of: taskIDs))
            #expect(got.allSatisfy { abs($0.timestamp.timeIntervalSinceNow) < 600 })
        }
    }

    @Test("the demultiplexer gives the same frames wherever the stream is cut")
    func demuxerSplits() throws {
        let payloads: [(UInt8, String)] = [(1, "2026-12-02T10:00:00.123456789Z a=b hello\n"), (2, "oops\n"), (1, "")]
        var stream: [UInt8] = []
        for (type, text) in payloads {
            let bytes = Array(text.utf8)
            let n = UInt32(bytes.count)
            stream += [type, 0, 0, 0, UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + bytes
        }
        for cut in 0...stream.count {
            var demuxer = DockerLogDemuxer()
            let frames = try demuxer.append(stream[..<cut]) + demuxer.append(stream[cut...])
            #expect(frames.map(\.stream) == ["stdout", "stderr", "stdout"])
            #expect(frames.map { String(decoding: $0.payload, as: UTF8.self) } == payloads.map(\.1))
            #expect(demuxer.leftover == 0)
        }
        var bad = DockerLogDemuxer()
        #expect(throws: DockerLogDemuxer.MalformedStream.self) { try bad.append(Array("2026-12-02 not framed".utf8)) }

        let line = SwarmExecutor.logLines(.init(stream: "stdout", payload: Array(
            "2026-12-02T10:00:00.123456789Z com.docker.swarm.node.id=n1,com.docker.swarm.task.id=t9 hello world\n".utf8)))
        #expect(line == [AppLogLine(timestamp: RFC3339.parse("2026-12-02T10:00:00.123456789Z")!, replica: "t9",
                                    stream: "stdout", text: "hello world")])
    }

    /// Polls `condition` every 20 ms for up to 30 seconds.
    static func waitUntil(_ condition: @Sendable () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw TimeoutError() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    struct TimeoutError: Error {}
}
