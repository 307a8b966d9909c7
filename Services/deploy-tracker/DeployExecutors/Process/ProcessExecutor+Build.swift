import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Builds (a copy of the source in `releases/v<N>/`, the build command run there), hooks and
/// validation.
extension ProcessExecutor {
    public func build(_ release: ReleaseInput, log: DeployLog) async throws -> Artifact {
        let key = AppKey(tenantID: release.tenantID, app: release.app)
        let directory = layout.releaseDirectory(key, version: release.versionName)
        let fm = FileManager.default
        do {
            if fm.fileExists(atPath: directory.path) { try fm.removeItem(at: directory) }
            try fm.createDirectory(at: directory.deletingLastPathComponent(), withIntermediateDirectories: true)
            if let source = release.sourceDirectory {
                try fm.copyItem(at: source, to: directory)
            } else {
                try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            }
        } catch {
            throw DeployFailure(.build, "cannot prepare \(directory.path): \(error)")
        }
        if let user = configuration.processUser { ShellCommand.giveOwnership(of: directory.path, to: user) }
        await supervisor.remember(key, version: release.versionName, environment: release.environment)
        guard let command = release.spec.buildCommand, !command.isEmpty else {
            throw DeployFailure(.build, "the spec has no build_command")
        }
        await log.info("building \(release.versionName) in \(directory.path)", .buildStart)
        let outcome: ShellCommand.Outcome
        do {
            outcome = try await shell(command, in: directory, release: release,
                                      outputFile: directory.path + ".build.log", log: log)
        } catch let error as SpawnError {
            throw DeployFailure(.build, error.description)
        }
        guard outcome.status == 0 else {
            await log.error("build of \(release.versionName) failed: \(outcome.summary)", .buildError)
            throw DeployFailure(.build, outcome.summary)
        }
        await log.info("built \(release.versionName)", .buildComplete)
        return Artifact(reference: directory.path)
    }

    public func runHook(_ phase: String, command: String, release: ReleaseInput, log: DeployLog) async throws {
        let key = AppKey(tenantID: release.tenantID, app: release.app)
        var directory = layout.releaseDirectory(key, version: release.versionName)
        // pre_build runs before the release directory exists: in the source, else the app's directory.
        if !FileManager.default.fileExists(atPath: directory.path) {
            directory = release.sourceDirectory ?? layout.appDirectory(key)
            try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }
        let kind: DeployFailure.Kind = phase == "post_deploy" ? .hook : .validation
        let outcome: ShellCommand.Outcome
        do {
            outcome = try await shell(command, in: directory, release: release, outputFile: nil, log: log)
        } catch let error as SpawnError {
            throw DeployFailure(kind, error.description)
        }
        guard outcome.status == 0 else { throw DeployFailure(kind, "\(phase) hook: \(outcome.summary)") }
    }

    public func validate(_ release: ReleaseInput) async -> [ValidationCheck] {
        var checks: [ValidationCheck] = []
        let nginxVersion = try? await ShellCommand(arguments: [configuration.nginxBinary, "-v"], environment: [:]).run()
        checks.append(ValidationCheck(name: "nginx", ok: nginxVersion?.status == 0,
                                      detail: nginxVersion?.lastLines.last ?? "\(configuration.nginxBinary) does not run"))
        let build = release.spec.buildCommand.map { !$0.isEmpty } ?? false
        checks.append(ValidationCheck(name: "build_command", ok: build, detail: build ? "present" : "missing"))
        let start = release.spec.startCommand.map { !$0.isEmpty } ?? false
        checks.append(ValidationCheck(name: "start_command", ok: start, detail: start ? "present" : "missing"))
        let writable = access(configuration.dataDirectory.path, W_OK) == 0
        checks.append(ValidationCheck(name: "data_directory", ok: writable,
                                      detail: writable ? "\(configuration.dataDirectory.path) is writable"
                                          : "\(configuration.dataDirectory.path) is not writable"))
        if let program = release.spec.startCommand?.split(separator: " ").first, program.contains("/") {
            let path = program.hasPrefix("/") ? String(program)
                : (release.sourceDirectory?.appendingPathComponent(String(program)).path ?? String(program))
            let exists = FileManager.default.fileExists(atPath: path)
            checks.append(ValidationCheck(name: "start_program", ok: exists,
                                          detail: exists ? "\(program) exists" : "\(program) not found"))
        }
        return checks
    }

    /// `command` via `/bin/sh -c` in `directory` with the release's environment, each output
    /// line to `log.output`.
    func shell(_ command: String, in directory: URL, release: ReleaseInput, outputFile: String?,
               log: DeployLog) async throws -> ShellCommand.Outcome {
        let environment = Self.baseEnvironment.merging(release.environment) { _, release in release }
        let runner = ShellCommand(arguments: ShellCommand.shell(command, user: configuration.processUser),
                                  directory: directory.path, environment: environment, outputFile: outputFile)
        return try await runner.run { line in await log.output(line, "stdout") }
    }
}
