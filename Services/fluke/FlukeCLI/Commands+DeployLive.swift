import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Deploy an app and watch it: each phase live, then its log lines.",
        discussion: """
            Uploads DIR (default: here) as a gzipped tar, or deploys --image, then shows each of \
            the five phases as it runs (a spinner and elapsed time on a terminal, plain lines \
            otherwise) with the deployment's log lines as they arrive. Exits 0 on success, 2 when \
            the deployment failed, was rolled back or cancelled. --detach prints the id at once.

            Examples:
              fluke deploy ./site --app web
              fluke deploy --app api --image registry.example.com/api --version 1.4.2
              fluke deploy --app web --detach --json
            """)

    @OptionGroup var options: GlobalOptions
    @Argument(help: "The directory to upload (default: the current one); not with --image.") var directory: String?
    @Option(name: .shortAndLong, help: "The app to deploy.") var app: String
    @Option(help: "An image to deploy instead of a directory (swarm, kubernetes).") var image: String?
    @Option(help: "The image's tag.") var version: String?
    @Flag(help: "Print the deployment's id and return at once.") var detach = false
    @Flag(name: .customLong("no-auto-rollback"), help: "Leave a failed deployment as it is.") var noAutoRollback = false
    @Option(help: "Stop watching after this many seconds (the deployment goes on).") var timeout = 1800

    func validate() throws {
        if image != nil, directory != nil { throw ValidationError("give a directory or --image, not both") }
    }

    func run() async throws {
        try await withClient(options) { client in
            let queued: FleetObject<Deployment>
            if let image {
                var request: [String: JSONValue] = ["app_name": .string(app), "image": .string(image)]
                if let version { request["version"] = .string(version) }
                if noAutoRollback { request["auto_rollback"] = .bool(false) }
                queued = try await client.deploy(request)
            } else {
                queued = try await client.deploySource(app: app, tarball: try Tarball.gzip(directory ?? "."))
            }
            let id = queued.id.lowercased
            if detach {
                Output.show(queued, json: options.json) { _ in Output.write(id) }
                return
            }
            let final = try await DeployWatcher(client: client, deploymentID: id, quiet: options.json,
                                                timeout: .seconds(timeout)).watch()
            if options.json { Output.printJSON(final) }
            guard final.status == "success" else { throw ExitCode(2) }
        }
    }
}

/// Polls a deployment until it ends, printing phase changes and its log lines from the live tail.
struct DeployWatcher {
    let client: FlukeClient
    let deploymentID: String
    /// `--json`: nothing but the final answer is printed.
    let quiet: Bool
    let timeout: Duration

    static let spinner = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"]

    func watch() async throws -> FleetObject<Deployment> {
        let feed = DeployLogFeed(client: client, deploymentID: deploymentID)
        if !quiet {
            if client.endpoints.base(.logStreamer)?.scheme != "http" {
                Output.write("(log lines come from log-streamer's live tail over ws://; here: fluke logs APP --deployment \(deploymentID))")
            }
            await feed.start()
        }
        do {
            let deployment = try await poll(feed)
            await feed.stop()
            return deployment
        } catch {
            await feed.stop()
            throw error
        }
    }

    private func poll(_ feed: DeployLogFeed) async throws -> FleetObject<Deployment> {
        let clock = ContinuousClock(), start = clock.now
        var seen: [String: String] = [:], tick = 0, spinning = false
        while true {
            let deployment = try await client.deployment(deploymentID)
            let status = deployment.status
            var lines: [String] = []
            var running: (name: String, started: Date?)?
            for phase in deployment.phases {
                if phase.state == "running" { running = (phase.name, phase.startedAt) }
                guard seen[phase.name] != phase.state else { continue }
                seen[phase.name] = phase.state
                if phase.state == "running", Output.isTerminal { continue }
                var line = "\(phase.name): \(phase.state)"
                if let ms = phase.durationMS, phase.state != "running" { line += String(format: " in %.1f s", Double(ms) / 1000) }
                if let error = phase.error { line += " — \(error)" }
                lines.append(line)
            }
            // The last lines may land just after the deployment ends: wait for the tail to go quiet.
            if deployment.isFinished, !quiet { await feed.settle() }
            for entry in await feed.take() {
                lines.append("  \(entry.level.rawValue.uppercased().prefix(5)) \(Output.cell(.string(entry.message), path: ""))")
            }
            if !quiet {
                if spinning { FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8)); spinning = false }
                for line in lines { Output.write(line) }
                if Output.isTerminal, let (name, started) = running, !deployment.isFinished {
                    let since = started.map { Date().timeIntervalSince($0) } ?? 0
                    let frame = Self.spinner[tick % Self.spinner.count]
                    FileHandle.standardOutput.write(Data("\(frame) \(name)  \(String(format: "%.1f", max(0, since))) s".utf8))
                    spinning = true
                }
            }
            tick += 1
            if deployment.isFinished {
                if !quiet {
                    if spinning { FileHandle.standardOutput.write(Data("\r\u{1B}[2K".utf8)) }
                    let reason = deployment.error ?? deployment.reason
                    Output.write("deployment \(deploymentID): \(status)" + (reason.map { " — \($0)" } ?? ""))
                }
                return deployment
            }
            guard clock.now - start < timeout else {
                if !quiet { Output.write("still \(status) after \(timeout); it goes on: fluke deployments show \(deploymentID)") }
                throw ExitCode(5)
            }
            try await Task.sleep(for: .milliseconds(Output.isTerminal ? 150 : 500))
        }
    }
}

/// A deployment's log lines as they arrive, each once: log-streamer's live tail filtered to the
/// deployment, replayed from an hour back (the deployment's lines before the tail opened) and
/// resumed after the last line when the connection drops or could not be made yet.
actor DeployLogFeed {
    let client: FlukeClient
    let deploymentID: String
    private var pending: [FleetObject<UnifiedLogEntry>] = []
    private var lastID: String?
    private var reader: Task<Void, Never>?

    init(client: FlukeClient, deploymentID: String) {
        self.client = client
        self.deploymentID = deploymentID
    }

    func start() {
        let since = RFC3339.format(Date().addingTimeInterval(-3600))
        reader = Task { [client, deploymentID] in
            while !Task.isCancelled {
                // Before the first line, from an hour back; then after the last line received.
                let resume = self.lastID.map { ("since_id", $0) } ?? ("since", since)
                if let tail = try? await client.tailLogs([("deployment_id", deploymentID), resume]) {
                    do {
                        for try await message in tail { if case .entry(let entry) = message { self.receive(entry) } }
                    } catch {}
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func receive(_ entry: FleetObject<UnifiedLogEntry>) {
        pending.append(entry)
        lastID = entry.id
    }

    /// The lines that arrived since the last call.
    func take() -> [FleetObject<UnifiedLogEntry>] {
        defer { pending = [] }
        return pending
    }

    /// Waits (at most 2 s) until no line has arrived for 300 ms.
    func settle() async {
        var count = -1
        for _ in 0..<20 where count != pending.count {
            count = pending.count
            try? await Task.sleep(for: .milliseconds(300))
        }
    }

    func stop() {
        reader?.cancel()
        reader = nil
    }
}

/// A directory as the gzipped tar deploy-tracker takes (tar from the system, `.git` and
/// `.build` left out).
enum Tarball {
    static func gzip(_ directory: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("\(directory) is not a directory")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["tar", "--exclude=./.git", "--exclude=./.build", "-czf", "-", "-C", directory, "."]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw ValidationError("could not pack \(directory): \(text)")
        }
        return data
    }
}
