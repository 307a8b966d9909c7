import FlukeModels
import Foundation

extension KubernetesExecutor {
    /// Follows every pod of the app at once (`GET …/pods/{pod}/log?follow=true&timestamps=true`),
    /// returning when every stream has ended. The API server merges a container's stdout and
    /// stderr into one stream, so every line is reported as `stdout`.
    public func followLogs(tenantID: UUID, app: String, since: Date?,
                           _ line: @escaping @Sendable (AppLogLine) async -> Void) async throws {
        let pods = try await client.get(KubeList<KubePod>.self, podsPath(selector: Self.appLabels(tenantID: tenantID, app: app)))
        let names = pods.items.filter { $0.metadata.labels?[Label.hook] == nil }.compactMap(\.metadata.name)
        var query = "follow=true&timestamps=true"
        if let since {
            let stamp = RFC3339.format(since).replacingOccurrences(of: ":", with: "%3A")
            query += "&sinceTime=\(stamp)"
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pod in names {
                let path = "/api/v1/namespaces/\(namespace)/pods/\(pod)/log?\(query)"
                group.addTask {
                    do {
                        try await client.streamLines(path) { text in
                            await line(Self.logLine(text, pod: pod))
                        }
                    } catch is DeployFailure {
                        // A pod not started yet or already gone (400, 404) ends only its own stream.
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// `2026-12-02T10:00:00.123456789Z text`: the timestamp the kubelet put in front of each
    /// line with `timestamps=true`; a line without one is dated now.
    static func logLine(_ text: String, pod: String) -> AppLogLine {
        if let space = text.firstIndex(of: " "), let date = RFC3339.parse(String(text[..<space])) {
            return AppLogLine(timestamp: date, replica: pod, stream: "stdout",
                              text: String(text[text.index(after: space)...]))
        }
        return AppLogLine(timestamp: Date(), replica: pod, stream: "stdout", text: text)
    }
}
