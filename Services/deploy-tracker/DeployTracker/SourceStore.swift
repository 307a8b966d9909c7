import DeployExecutors
import FlukeRuntime
import Foundation

/// Where deployments' sources live under `DEPLOY_DATA_DIR`: uploaded tarballs (`uploads/`,
/// kept until their deployment finishes) and the work directories builds start from (`work/`).
struct SourceStore: Sendable {
    let root: URL

    var uploads: URL { root.appendingPathComponent("uploads", isDirectory: true) }
    var work: URL { root.appendingPathComponent("work", isDirectory: true) }

    /// The file an upload for `deployment` is written to.
    func uploadPath(_ deployment: UUID) -> URL {
        uploads.appendingPathComponent("\(deployment.lowercased).tar.gz")
    }

    /// Unpacks or checks out the source into a fresh work directory for `deployment`.
    func prepare(_ source: DeploymentSource, deployment: UUID, log: DeployLog) async throws -> URL {
        let directory = work.appendingPathComponent(deployment.lowercased, isDirectory: true)
        try? FileManager.default.removeItem(at: directory)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        switch source {
        case .upload(let path):
            // GNU tar drops leading `/` and refuses `..` members by default; no owners are kept.
            let result = try await Self.run(["tar", "-xzf", path, "-C", directory.path, "--no-same-owner",
                                                               "--no-same-permissions"], timeout: .seconds(300))
            guard result.status == 0 else {
                throw DeployFailure(.build, "the uploaded tarball could not be unpacked: \(result.output.suffix(500))")
            }
        case .git(let url, let ref):
            await log.info("cloning \(url) at \(ref)")
            let clone = try await Self.run(["git", "clone", "--quiet", "--", url, directory.path],
                                             timeout: .seconds(600))
            guard clone.status == 0 else { throw DeployFailure(.build, "git clone failed: \(clone.output.suffix(500))") }
            let checkout = try await Self.run(["git", "-C", directory.path, "checkout", "--quiet", "--detach", ref],
                                                timeout: .seconds(120))
            guard checkout.status == 0 else { throw DeployFailure(.build, "git checkout \(ref) failed: \(checkout.output.suffix(500))") }
        }
        return directory
    }

    /// Removes what a finished deployment left: its work directory and its upload.
    func cleanUp(deployment: UUID, source: DeploymentSource?) {
        try? FileManager.default.removeItem(at: work.appendingPathComponent(deployment.lowercased, isDirectory: true))
        if case .upload(let path)? = source { try? FileManager.default.removeItem(atPath: path) }
    }

    /// Runs a tool (tar, git) to completion, its output captured (the tail is kept for errors).
    static func run(_ arguments: [String], timeout: Duration) async throws -> (status: Int32, output: String) {
        nonisolated(unsafe) let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        nonisolated(unsafe) let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        var environment = ProcessInfo.processInfo.environment
        environment["GIT_TERMINAL_PROMPT"] = "0"
        process.environment = environment
        try process.run()
        let deadline = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { process.terminate() }
        }
        // Reading to the end and waiting block: a thread of their own, not Swift concurrency's.
        let data = await onThread {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return data
        }
        deadline.cancel()
        return (process.terminationStatus, String(decoding: data.suffix(4096), as: UTF8.self))
    }

    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }
}
