import FlukeClient
import FlukeModels
import Foundation
import MCP

/// The project context as an MCP resource, `fluke://projects/{id}/context`, and
/// `notifications/resources/updated` when context-api's change feed moves for a subscribed one.
actor ContextResources {
    static let prefix = "fluke://projects/"
    static let suffix = "/context"
    /// How often subscribed projects' change feeds are read.
    let interval: Duration
    /// Subscribed URI → the last change seen, and the client (the subscriber's token) to look with.
    private var subscriptions: [String: (cursor: String?, client: FlukeClient)] = [:]
    private var poller: Task<Void, Never>?

    init(interval: Duration = .seconds(2)) {
        self.interval = interval
    }

    static func uri(_ project: String) -> String { prefix + project + suffix }

    /// The project a context URI names, or nil.
    static func project(_ uri: String) -> String? {
        guard uri.hasPrefix(prefix), uri.hasSuffix(suffix) else { return nil }
        let id = String(uri.dropFirst(prefix.count).dropLast(suffix.count))
        return UUID(uuidString: id) == nil ? nil : id
    }

    func list(_ client: FlukeClient) async throws -> [Resource] {
        let page = try await client.listProjects(limit: 100)
        return page.items.map { project in
            let id = project.id.lowercased, name = project.name
            return Resource(name: "\(name) context", uri: Self.uri(id), title: "Project context: \(name)",
                            description: "What an AI agent should know about \(name).", mimeType: "application/json")
        }
    }

    func read(_ uri: String, _ client: FlukeClient) async throws -> [Resource.Content] {
        guard let project = Self.project(uri) else { throw MCPError.invalidParams("unknown resource: \(uri)") }
        let context = try await client.context(project: project)
        return [.text(context.json.jsonText, uri: uri, mimeType: "application/json")]
    }

    /// Starts watching `uri` from the feed's current end; `notify` is called with each URI that moved.
    func subscribe(_ uri: String, _ client: FlukeClient, notify: @escaping @Sendable (String) async -> Void) async throws {
        guard let project = Self.project(uri) else { throw MCPError.invalidParams("unknown resource: \(uri)") }
        subscriptions[uri] = (try await end(project, client), client)
        if poller == nil {
            poller = Task { [interval] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    for moved in await self.poll() { await notify(moved) }
                }
            }
        }
    }

    func unsubscribe(_ uri: String) {
        subscriptions[uri] = nil
        if subscriptions.isEmpty { poller?.cancel(); poller = nil }
    }

    /// The URIs whose project changed since the last look.
    private func poll() async -> [String] {
        var moved: [String] = []
        for (uri, subscription) in subscriptions {
            guard let project = Self.project(uri),
                  let page = try? await subscription.client.contextChanges(project: project, since: subscription.cursor, limit: 100)
            else { continue }
            guard let last = page.items.last?.cursor else { continue }
            // Unsubscribed meanwhile: leave it out.
            guard subscriptions[uri] != nil else { continue }
            subscriptions[uri]?.cursor = last
            moved.append(uri)
        }
        return moved
    }

    /// The cursor of the newest change (nil: none yet), paging through at most 100 pages of 100.
    private func end(_ project: String, _ client: FlukeClient) async throws -> String? {
        var cursor: String?
        for _ in 0..<100 {
            let page = try await client.contextChanges(project: project, since: cursor, limit: 100)
            if let last = page.items.last?.cursor { cursor = last }
            if page.nextCursor == nil { break }
        }
        return cursor
    }

    deinit { poller?.cancel() }
}
