import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A minimal HTTP client for services running as separate processes.
public enum HTTP {
    public struct Reply: Sendable {
        public var status: Int
        public var body: Data
        public var headers: [String: String]
        public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
    }

    public static func get(_ url: String, headers: [String: String] = [:], timeout: TimeInterval = 3) async throws -> Reply {
        try await send("GET", url, headers: headers, timeout: timeout)
    }

    /// Any method, with an optional JSON body.
    public static func send(_ method: String, _ url: String, headers: [String: String] = [:], json: Data? = nil,
                            timeout: TimeInterval = 3) async throws -> Reply {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: timeout)
        request.httpMethod = method
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        if let json {
            request.httpBody = json
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var h: [String: String] = [:]
        for (k, v) in http.allHeaderFields { h["\(k)".lowercased()] = "\(v)" }
        return Reply(status: http.statusCode, body: data, headers: h)
    }
}

/// A service executable started as its own process, with stderr captured.
public final class ServiceProcess: @unchecked Sendable {
    public let process = Process()
    /// The process's stdout and stderr go to a file rather than a pipe: nothing in the test
    /// process has to keep draining it (a pipe read through a libdispatch readability handler
    /// fell behind on a loaded machine, and a full pipe stops the process writing).
    private let outputPath: String

    public init(executable: String, environment: [String: String], arguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: TestEnvironment.binDir + "/" + executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FLUKE_TEST") }
        env.merge(environment) { _, new in new }
        process.environment = env
        outputPath = TestEnvironment.workDir + "/process-\(executable)-\(UUID().uuidString.prefix(8)).log"
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
              let file = FileHandle(forWritingAtPath: outputPath) else {
            throw TestFailure("could not create \(outputPath)")
        }
        process.standardError = file
        process.standardOutput = file
        try process.run()
        try? file.close()
    }

    /// Everything the process wrote so far.
    public var log: String {
        String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
    }

    /// Waits for exit; returns the status, or nil if it is still running after `timeout`.
    public func waitForExit(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        var exited: Int32?
        while process.isRunning && ContinuousClock.now < deadline {
            // Foundation can notice an exit late on a loaded machine; the kernel knows at once.
            if let status = zombieStatus() { exited = status; break }
            try? await Task.sleep(for: .milliseconds(20))
        }
        guard exited != nil || !process.isRunning else { return nil }
        return exited ?? process.terminationStatus
    }

    /// The exit status of the process if it has exited but not been reaped yet (a zombie), read
    /// from `/proc/<pid>/stat` without reaping it (Foundation still does): the state is field 3
    /// and `exit_code` field 52, encoded as `waitpid` reports it. Signals come back as their
    /// number, as `terminationStatus` reports them.
    private func zombieStatus() -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let commEnd = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: commEnd)...].split(separator: " ")
        guard fields.first == "Z", fields.count >= 50, let raw = Int32(fields[49]) else { return nil }
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
    }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }


    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
