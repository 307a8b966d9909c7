import ArgumentParser
import FlukeClient
import FlukeModels
import Foundation

struct Overview: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Every project you can see, with what needs attention first.",
        discussion: "Examples:\n  fluke overview\n  fluke overview --json | jq '.attention[] | select(.kind == \"deploy_failed\")'")
    @OptionGroup var options: GlobalOptions

    func run() async throws {
        try await withClient(options) { client in
            let overview = try await client.tenantOverview()
            Output.show(overview, json: options.json) { _ in Self.render(overview.model) }
        }
    }

    static func render(_ overview: TenantOverview) {
        let safe = { (text: String) in Output.cell(.string(text), path: "") }
        if overview.attention.isEmpty {
            Output.write("Nothing needs attention.")
        } else {
            Output.write("Needs attention:")
            for item in overview.attention {
                Output.write("  \(safe(item.projectName))  \(item.kind)  \(safe(item.detail))")
            }
        }
        Output.write("")
        let width = overview.projects.map { safe($0.name).count }.max() ?? 0
        for project in overview.projects {
            let open = project.tasks.filter { $0.key != "done" }.values.reduce(0, +)
            Output.write("  " + safe(project.name).padding(toLength: width, withPad: " ", startingAt: 0)
                         + "  \(project.id.lowercased)  \(Output.coloured(project.federation.status))  \(open) open task\(open == 1 ? "" : "s")"
                         + (project.attention > 0 ? "  \(project.attention) to look at" : ""))
        }
        if overview.projects.isEmpty { Output.write("  (no projects)") }
        var notes: [String] = []
        if overview.stale.deployments { notes.append("deployments may be out of date") }
        if overview.stale.federation { notes.append("ONLINE/OFFLINE may be out of date") }
        if overview.truncated { notes.append("only the first 1,000 projects are shown") }
        if !notes.isEmpty { Output.write("\n(" + notes.joined(separator: "; ") + ")") }
    }
}
