import FlukeModels
import Foundation

/// A GitHub issue as a task needs it, read from GitHub's JSON (REST lists and `issues` webhooks
/// share the shape). Text is made safe for the task: control characters other than newline and
/// tab are dropped, and it is cut to the task's limits.
struct GitHubIssue: Sendable, Equatable {
    var nodeID: String
    var number: Int
    var title: String
    var body: String
    /// `open` or `closed`.
    var open: Bool
    var labels: [String]
    var htmlURL: String?

    /// nil for what is not an issue: no node id or title, or a pull request.
    init?(_ json: JSONValue) {
        guard json["pull_request"] == nil, let nodeID = json["node_id"]?.stringValue, (1...200).contains(nodeID.utf8.count),
              let title = json["title"]?.stringValue, case .number(let number)? = json["number"] else { return nil }
        self.nodeID = nodeID
        self.number = Int(number)
        self.title = String(Self.clean(title, keepNewlines: false).prefix(PMRoutes.nameLimit))
        body = String(Self.clean(json["body"]?.stringValue ?? "", keepNewlines: true).prefix(PMRoutes.descriptionLimit))
        open = json["state"]?.stringValue != "closed"
        var labels: [String] = []
        if case .array(let items)? = json["labels"] {
            for item in items {
                guard let name = item["name"]?.stringValue ?? item.stringValue else { continue }
                let label = String(Self.clean(name, keepNewlines: false).prefix(50))
                if !label.isEmpty, !labels.contains(label), labels.count < 20 { labels.append(label) }
            }
        }
        self.labels = labels
        htmlURL = json["html_url"]?.stringValue.map { String($0.prefix(2048)) }
        if self.title.isEmpty { self.title = "Issue #\(self.number)" }
    }

    static func clean(_ text: String, keepNewlines: Bool) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar == "\n" || scalar == "\t" {
                out.append(keepNewlines ? scalar : " ")
            } else if scalar.properties.generalCategory != .control {
                out.append(scalar)
            }
        }
        return String(out).trimmingCharacters(in: keepNewlines ? .whitespacesAndNewlines : .whitespaces)
    }
}
