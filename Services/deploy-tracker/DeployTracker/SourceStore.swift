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
            // The clone has HEAD checked out already.
            guard ref != "HEAD" else { break }
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

    /// Runs a tool (tar, git) to completion, its output's last lines kept for errors; cancelled
    /// with its task (the whole process group goes).
    static func run(_ arguments: [String], timeout: Duration) async throws -> (status: Int32, output: String) {
        let environment = ["PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", "GIT_TERMINAL_PROMPT": "0"]
        let outcome = try await withTimeout(timeout) {
            try await ShellCommand(arguments: ["/usr/bin/env"] + arguments, environment: environment).run()
        }
        return (outcome.status, outcome.lastLines.joined(separator: "\n"))
    }
}
