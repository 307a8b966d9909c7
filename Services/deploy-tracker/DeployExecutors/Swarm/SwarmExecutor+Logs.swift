import AsyncHTTPClient
import FlukeModels
import Foundation

extension SwarmExecutor {
    /// Follows the service's logs (`GET /services/{id}/logs?follow=1`, with timestamps and the
    /// task details that say which replica wrote each line) until cancelled, or until the
    /// Engine ends the stream because the service is gone.
    public func followLogs(tenantID: UUID, app: String, since: Date?,
                           _ line: @escaping @Sendable (AppLogLine) async -> Void) async throws {
        let name = Self.serviceName(tenantID: tenantID, app: app)
        var query = [("follow", "1"), ("stdout", "1"), ("stderr", "1"), ("timestamps", "1"), ("details", "1")]
        if let since { query.append(("since", String(format: "%.9f", since.timeIntervalSince1970))) }
        let body: HTTPClientResponseBody
        do {
            body = try await engine.stream(.GET, "/services/\(name)/logs", query: query)
        } catch let error as DockerEngineError where error.isNotFound {
            return
        } catch let error as DockerEngineError {
            throw DeployFailure(.executor, "logs of \(name): \(error.message)")
        }
        var demuxer = DockerLogDemuxer()
        do {
            for try await chunk in body {
                for frame in try demuxer.append(chunk.readableBytesView) {
                    for parsed in Self.logLines(frame) { await line(parsed) }
                }
            }
            // A cancelled stream may just end: that is still a cancellation, not a service gone.
            try Task.checkCancellation()
        } catch where Task.isCancelled {
            throw CancellationError()
        } catch let error as DockerLogDemuxer.MalformedStream {
            throw DeployFailure(.executor, "logs of \(name): \(error)")
        } catch let error as HTTPClientError {
            throw DeployFailure(.executor, "logs of \(name) ended: \(error)")
        }
    }

    /// Hands a finished job's output to the deployment log.
    func copyOutput(of service: String, to log: DeployLog) async throws {
        let data = try await engine.send(.GET, "/services/\(service)/logs",
                                         query: [("stdout", "1"), ("stderr", "1"), ("timestamps", "1"), ("details", "1")])
        var demuxer = DockerLogDemuxer()
        for frame in try demuxer.append(data) {
            for parsed in Self.logLines(frame) { await log.output(parsed.text, parsed.stream) }
        }
    }

    /// One frame's payload: `<RFC 3339 nano timestamp> <details> <text>`, where details are
    /// `k=v` pairs separated by commas, `com.docker.swarm.task.id` naming the task.
    static func logLines(_ frame: DockerLogDemuxer.Frame, now: Date = Date()) -> [AppLogLine] {
        var text = Substring(String(decoding: frame.payload, as: UTF8.self))
        while text.last == "\n" || text.last == "\r" { text = text.dropLast() }
        var timestamp = now
        if let space = text.firstIndex(of: " "), let parsed = RFC3339.parse(String(text[..<space])) {
            timestamp = parsed
            text = text[text.index(after: space)...]
        }
        var replica = ""
        if let space = text.firstIndex(of: " ") ?? (text.contains("=") ? text.endIndex : nil),
           text[..<space].contains("com.docker.swarm.") {
            for pair in text[..<space].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == "com.docker.swarm.task.id" {
                    replica = String(parts[1]).removingPercentEncoding ?? String(parts[1])
                }
            }
            text = space < text.endIndex ? text[text.index(after: space)...] : ""
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).map {
            AppLogLine(timestamp: timestamp, replica: replica, stream: frame.stream, text: String($0))
        }
    }
}
