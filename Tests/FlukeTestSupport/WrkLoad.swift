@testable import DeployExecutors
import Foundation
import FlukeTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// wrk hammering an app's nginx address while a rollout runs; stopped with SIGINT, after which
/// it prints its summary (requests, non-2xx/3xx answers, socket errors).
final class WrkLoad: @unchecked Sendable {
    struct Summary: CustomStringConvertible {
        var requests: Int
        var failures: Int
        var text: String
        var description: String { text }
    }

    private let pid: pid_t
    private let outputFile: String

    init(url: String) throws {
        outputFile = TestEnvironment.workDir + "/wrk-" + UUID().uuidString.prefix(8) + ".out"
        // ChildProcess rather than Foundation's Process, which hands its children the test
        // runner's blocked SIGINT: wrk would never stop.
        pid = try ChildProcess.spawn(.init(arguments: ["/usr/bin/wrk", "-t", "2", "-c", "8", "-d", "600s", "--timeout", "10s",
                                                       url + "/"],
                                           environment: [:], outputFile: outputFile, newSession: false))
    }

    /// A test that failed before `stop` leaves no wrk behind.
    deinit {
        if ChildProcess.reap(pid) == nil {
            kill(pid, SIGKILL)
            _ = waitpid(pid, nil, 0)
        }
    }

    /// A test that failed before ``stop()`` leaves no wrk behind.
    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Stops wrk and reads its summary.
    func stop() async throws -> Summary {
        // wrk needs a moment to connect before its summary means anything.
        try await Task.sleep(for: .milliseconds(300))
        kill(pid, SIGINT)
        try await eventually(timeout: .seconds(30), "wrk to exit") { ChildProcess.reap(pid) != nil }
        let data = FileManager.default.contents(atPath: outputFile) ?? Data()
        try? FileManager.default.removeItem(atPath: outputFile)
        let text = String(decoding: data, as: UTF8.self)
        guard let requests = Self.number(in: text, before: " requests in") else {
            throw TestFailure("wrk printed no summary:\n\(text)")
        }
        var failures = Self.number(in: text, after: "Non-2xx or 3xx responses: ") ?? 0
        if let errors = text.range(of: "Socket errors: ") {
            let line = text[errors.upperBound...].prefix { $0 != "\n" }
            failures += line.split(separator: ",").compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
        }
        return Summary(requests: requests, failures: failures, text: text)
    }

    private static func number(in text: String, before marker: String) -> Int? {
        guard let range = text.range(of: marker) else { return nil }
        let digits = text[..<range.lowerBound].reversed().prefix { $0.isNumber }
        return Int(String(digits.reversed()))
    }

    private static func number(in text: String, after marker: String) -> Int? {
        guard let range = text.range(of: marker) else { return nil }
        return Int(text[range.upperBound...].prefix { $0.isNumber })
    }
}
