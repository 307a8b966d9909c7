import Foundation

/// wrk hammering an app's address (the process executor's nginx) while a rollout runs; stopped
/// with SIGINT, after which it prints its summary (requests, non-2xx/3xx answers, socket errors).
public final class WrkLoad: @unchecked Sendable {
    public struct Summary: CustomStringConvertible, Sendable {
        public var requests: Int
        public var failures: Int
        public var text: String
        public var description: String { text }
    }

    private let process = Process()
    private let output = Pipe()

    /// `pauseMilliseconds` between a connection's requests keeps wrk from taking the machine's
    /// every core (4 connections pausing 5 ms: a few hundred requests a second), so that the
    /// services under test, not the load, decide what happens.
    public init(url: String, connections: Int = 4, pauseMilliseconds: Int = 5) throws {
        let script = FileManager.default.temporaryDirectory.appendingPathComponent("wrk-\(UUID().uuidString.prefix(8)).lua")
        try "delay = function() return \(pauseMilliseconds) end\n".write(to: script, atomically: true, encoding: .utf8)
        // Through python3, which unblocks SIGINT first: children of the test runner inherit it
        // blocked, and wrk stops (printing its summary) only on SIGINT.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT}); "
                             + "os.execv('/usr/bin/wrk', ['wrk'] + sys.argv[1:])",
                             "-t", "1", "-c", String(connections), "-d", "600s", "--timeout", "10s", "-s", script.path, url + "/"]
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    /// A test that failed before ``stop()`` leaves no wrk behind.
    deinit {
        if process.isRunning { process.terminate() }
    }

    /// Stops wrk and reads its summary.
    public func stop() async throws -> Summary {
        // wrk needs a moment to connect before its summary means anything.
        try await Task.sleep(for: .milliseconds(300))
        process.interrupt()
        try await eventually(timeout: .seconds(30), "wrk to exit") { !self.process.isRunning }
        let text = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
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
