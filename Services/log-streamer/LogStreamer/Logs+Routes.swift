import FlukeModels
import FlukeRuntime
import Foundation
import Hummingbird
import Logging

/// The REST API of log-streamer: entries in (`POST /api/v1/logs` and OpenTelemetry's
/// `POST /v1/logs`, `logs:write`) and out (`GET /api/v1/logs`, `logs:read`), always in the token's
/// tenant and, for a token bound to a project, that project.
struct LogsRoutes: Sendable {
    let store: LogStore
    let publisher: LogPublisher
    let validator: LogEntryValidator
    let maxBatchEntries: Int
    let authenticator: Authenticator
    let logger: Logger

    func register(_ routes: inout RouteRecorder) {
        routes.on(.post, "/api/v1/logs") { request, context in
            let principal = try context.principal(requiring: .logsWrite)
            let raw = try await LogBatchReader.read(request, context: context, maxEntries: maxBatchEntries)
            let entries = try validator.check(batch: raw, tenant: principal.tenantID, project: principal.projectID)
            try await publisher.publish(entries, principal: principal)
            let ids = entries.map { JSONValue.string($0.entry.id) }
            let body = String(decoding: try FleetJSON.encoder.encode(
                JSONValue.object(["accepted": .number(Double(entries.count)), "ids": .array(ids)])), as: UTF8.self)
            return FleetApplication.jsonResponse(body, status: .accepted)
        }
        // The live tail's paths answer plain requests too: with why an upgrade would be refused,
        // or 426 when it would be accepted.
        for path in TailRequest.paths.sorted() {
            routes.on(.get, path) { request, _ in
                _ = try await TailRequest.parse(uri: request.uri.description, authorization: request.headers[.authorization],
                                                authenticator: authenticator)
                throw Problem(.upgradeRequired, "WebSocket required",
                              detail: "this is the live tail: open it as a WebSocket (Connection: Upgrade, Upgrade: websocket)",
                              headers: [.upgrade: "websocket", .connection: "Upgrade"])
            }
        }
        routes.on(.get, "/api/v1/logs") { request, context in
            let principal = try context.principal(requiring: .logsRead)
            let query = try LogQuery(request: request, principal: principal)
            return FleetApplication.jsonResponse(try await store.list(query, principal: principal).json)
        }
        registerOTLP(&routes)
    }
}
