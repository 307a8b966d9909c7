import Foundation

/// A program run to its end, as a person or a script would run it: its exit status and what
/// it printed.
public struct CommandRun: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String

    /// Runs `executable` with `arguments` and exactly `environment` (plus PATH and HOME), `input`
    /// on its standard input (else nothing), failing the test when it outlives `timeout`.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String],
                           input: String? = nil, timeout: Duration = .seconds(60)) async throws -> CommandRun {
        let base = TestEnvironment.workDir + "/run-\(UUID().uuidString.prefix(8))"
        guard FileManager.default.createFile(atPath: base + ".out", contents: nil),
              FileManager.default.createFile(atPath: base + ".err", contents: nil),
              let out = FileHandle(forWritingAtPath: base + ".out"), let err = FileHandle(forWritingAtPath: base + ".err")
        else { throw TestFailure("could not create \(base).out/.err") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let inherited = ProcessInfo.processInfo.environment.filter { ["PATH", "HOME", "LANG"].contains($0.key) }
        process.environment = inherited.merging(environment) { _, new in new }
        process.standardOutput = out
        process.standardError = err
        if let input {
            guard FileManager.default.createFile(atPath: base + ".in", contents: Data(input.utf8)),
                  let handle = FileHandle(forReadingAtPath: base + ".in") else { throw TestFailure("could not create \(base).in") }
            process.standardInput = handle
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        try? out.close()
        try? err.close()
        defer { if process.isRunning { process.terminate() } }
        try await eventually(timeout: timeout, "\((executable as NSString).lastPathComponent) \(arguments.first ?? "") to exit") {
            !process.isRunning
        }
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
            try? FileManager.default.removeItem(atPath: base + ".in")
        }
        return CommandRun(status: process.terminationStatus,
                          stdout: String(decoding: FileManager.default.contents(atPath: base + ".out") ?? Data(), as: UTF8.self),
                          stderr: String(decoding: FileManager.default.contents(atPath: base + ".err") ?? Data(), as: UTF8.self))
    }

    /// What it printed on standard output, as JSON.
    public func json() throws -> Any {
        try JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed])
    }
}
