import FlukePostgres
import HTTPTypes
import Hummingbird
import FlukeRuntime
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

public struct Installation: Codable, Sendable {
    public var clientID: String
    public var userAgent: String
    public var version: String?
    public var firstSeen: Date
    public var lastSeen: Date
    public var contextFetches: Int
    public var memorySyncs: Int
    public var lastSyncAt: Date?
    enum CodingKeys: String, CodingKey {
        case version
        case clientID = "client_id", userAgent = "user_agent", firstSeen = "first_seen", lastSeen = "last_seen"
        case contextFetches = "context_fetches", memorySyncs = "memory_syncs", lastSyncAt = "last_sync_at"
    }
}

public struct UsageDay: Codable, Sendable {
    public var day: String
    public var contextFetches: Int
    public var memorySyncs: Int
    enum CodingKeys: String, CodingKey { case day, contextFetches = "context_fetches", memorySyncs = "memory_syncs" }
}

public struct Usage: Codable, Sendable {
    public var projectID: UUID
    public var days: [UsageDay]
    public var installations: [Installation]
    enum CodingKeys: String, CodingKey { case days, installations, projectID = "project_id" }
}

/// Counts context fetches and memory syncs per client installation (`X-Fluke-Client-Id`,
/// `User-Agent`) in memory and writes them every couple of seconds, so the context's read path
/// never waits for a write. A crash loses at most the last interval's counts (usage statistics,
/// not data).
final class UsageRecorder: Service, Sendable {
    struct Key: Hashable { var project: UUID; var tenant: UUID; var client: String }
    struct Tally { var userAgent = ""; var version: String?; var fetches = 0; var syncs = 0; var first = Date(); var last = Date(); var lastSync: Date?
        mutating func record(_ change: (inout Tally) -> Void) { change(&self) }
    }
    private let pending = Mutex<[Key: Tally]>([:])
    let db: TenantDatabase
    let interval: Duration
    /// Installations recorded per project: the client id is the caller's choice, so without a
    /// bound one token could fill the table. Beyond it a client is counted only in the daily totals.
    let maxInstallationsPerProject: Int
    let logger: Logger

    init(db: TenantDatabase, interval: Duration = .seconds(2),
         maxInstallationsPerProject: Int = ContextLimits().installationsPerProject, logger: Logger) {
        self.db = db
        self.interval = interval
        self.maxInstallationsPerProject = maxInstallationsPerProject
        self.logger = logger
    }

    static let clientIDHeader = HTTPField.Name("X-Fluke-Client-Id")!
    static let clientVersionHeader = HTTPField.Name("X-Fluke-Client-Version")!

    /// The client installation a request comes from.
    static func client(_ headers: HTTPFields) -> (id: String, userAgent: String, version: String?) {
        let agent = String((headers[.userAgent] ?? "").prefix(256))
        let id = headers[clientIDHeader].map { String($0.prefix(128)) } ?? "anonymous"
        // "flukebase-connect/1.4.2 (…)" → 1.4.2
        let version = headers[clientVersionHeader].map { String($0.prefix(64)) }
            ?? agent.split(separator: " ").first.flatMap { $0.split(separator: "/").dropFirst().first.map(String.init) }
        return (id, agent, version)
    }

    func recordFetch(project: UUID, tenant: UUID, request: Hummingbird.Request) {
        recordFetch(project: project, tenant: tenant, headers: request.headers)
    }

    func recordFetch(project: UUID, tenant: UUID, headers: HTTPFields) {
        let c = Self.client(headers)
        pending.withLock { principal in
            let now = Date()
            principal[Key(project: project, tenant: tenant, client: c.id), default: Tally()].record { t in
                t.userAgent = c.userAgent; t.version = c.version ?? t.version; t.fetches += 1; t.last = now
            }
        }
    }

    func recordSync(project: UUID, tenant: UUID, request: Hummingbird.Request) {
        let c = Self.client(request.headers)
        pending.withLock { principal in
            let now = Date()
            principal[Key(project: project, tenant: tenant, client: c.id), default: Tally()].record { t in
                t.userAgent = c.userAgent; t.version = c.version ?? t.version; t.syncs += 1; t.last = now; t.lastSync = now
            }
        }
    }

    func run() async throws {
        while !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            } catch {
                break
            }
            await flushLogged()
        }
        await flushLogged()
    }

    private func flushLogged() async {
        do { try await flush() } catch { logger.warning("could not write usage; will retry", metadata: ["error": "\(error)"]) }
    }

    /// Writes what was counted since the last flush: one batch spans tenants, so it is written as
    /// the fleet (each row still carries the tenant the request was counted in).
    func flush() async throws {
        let batch = pending.withLock { principal in defer { principal.removeAll() }; return principal }
        guard !batch.isEmpty else { return }
        do {
            let unrecorded = try await db.asSystem { tx -> Int in
                // One writer per project at a time (in a fixed order: no deadlock between
                // replicas), so the count below holds until commit.
                for project in Set(batch.keys.map(\.project)).map(\.lowercased).sorted() {
                    try await tx.query("SELECT pg_advisory_xact_lock(hashtext(\("fluke.context.installations." + project)))")
                }
                var unrecorded = 0
                for (key, t) in batch {
                    let installed = try await tx.query("""
                        INSERT INTO context.installations (project_id, tenant_id, client_id, user_agent, version, first_seen, last_seen,
                                                           context_fetches, memory_syncs, last_sync_at)
                        SELECT \(key.project)::uuid, \(key.tenant)::uuid, \(key.client)::text, \(t.userAgent)::text,
                               \(t.version)::text, \(t.first)::timestamptz, \(t.last)::timestamptz, \(t.fetches)::bigint,
                               \(t.syncs)::bigint, \(t.lastSync)::timestamptz
                        WHERE EXISTS (SELECT 1 FROM context.installations WHERE project_id = \(key.project) AND client_id = \(key.client))
                           OR (SELECT count(*) FROM context.installations WHERE project_id = \(key.project)) < \(maxInstallationsPerProject)
                        ON CONFLICT (project_id, client_id) DO UPDATE SET user_agent = EXCLUDED.user_agent,
                            version = COALESCE(EXCLUDED.version, context.installations.version),
                            last_seen = GREATEST(context.installations.last_seen, EXCLUDED.last_seen),
                            context_fetches = context.installations.context_fetches + EXCLUDED.context_fetches,
                            memory_syncs = context.installations.memory_syncs + EXCLUDED.memory_syncs,
                            last_sync_at = COALESCE(EXCLUDED.last_sync_at, context.installations.last_sync_at)
                        """)
                    if installed.affectedRows == 0 { unrecorded += 1 }
                    try await tx.query("""
                        INSERT INTO context.usage_daily (project_id, tenant_id, day, context_fetches, memory_syncs)
                        VALUES (\(key.project), \(key.tenant), (now() AT TIME ZONE 'UTC')::date, \(t.fetches), \(t.syncs))
                        ON CONFLICT (project_id, day) DO UPDATE SET
                            context_fetches = context.usage_daily.context_fetches + EXCLUDED.context_fetches,
                            memory_syncs = context.usage_daily.memory_syncs + EXCLUDED.memory_syncs
                        """)
                }
                return unrecorded
            }
            if unrecorded > 0 {
                logger.notice("client installations beyond the project limit were counted but not recorded", metadata: [
                    "count": "\(unrecorded)", "limit": "\(maxInstallationsPerProject)"])
            }
        } catch {
            // Put the counts back for the next attempt.
            pending.withLock { principal in
                for (key, t) in batch {
                    var merged = principal[key] ?? Tally()
                    merged.userAgent = t.userAgent; merged.version = merged.version ?? t.version
                    merged.fetches += t.fetches; merged.syncs += t.syncs; merged.first = min(merged.first, t.first)
                    merged.last = max(merged.last, t.last); merged.lastSync = merged.lastSync ?? t.lastSync
                    principal[key] = merged
                }
            }
            throw error
        }
    }

    static let installationColumns: StaticString =
        "client_id, user_agent, version, first_seen, last_seen, context_fetches, memory_syncs, last_sync_at"

    static func installation(_ row: PostgresRow) throws -> Installation {
        Installation(clientID: try row.decode(String.self, at: 0), userAgent: try row.decode(String.self, at: 1),
                     version: try row.decode(String?.self, at: 2), firstSeen: try row.decode(Date.self, at: 3),
                     lastSeen: try row.decode(Date.self, at: 4), contextFetches: try row.decode(Int.self, at: 5),
                     memorySyncs: try row.decode(Int.self, at: 6), lastSyncAt: try row.decode(Date?.self, at: 7))
    }

    func installations(_ project: ProjectInfo, principal: Principal, activeOnly: Bool) async throws -> [Installation] {
        try await db.read(principal, """
            SELECT \(sql: Self.installationColumns) FROM context.installations
            WHERE project_id = \(project.id) AND tenant_id = \(principal.tenantID)
              AND (NOT \(activeOnly) OR last_seen > now() - interval '24 hours')
            ORDER BY last_seen DESC, client_id
            """)[0].map(Self.installation)
    }

    func usage(_ project: ProjectInfo, principal: Principal) async throws -> Usage {
        let days = try await db.read(principal, """
            SELECT day::text, context_fetches, memory_syncs FROM context.usage_daily
            WHERE project_id = \(project.id) AND tenant_id = \(principal.tenantID) AND day > (now() AT TIME ZONE 'UTC')::date - 30
            ORDER BY day DESC
            """)[0].map { UsageDay(day: try $0.decode(String.self, at: 0), contextFetches: try $0.decode(Int.self, at: 1),
                                memorySyncs: try $0.decode(Int.self, at: 2)) }
        return Usage(projectID: project.id, days: days, installations: try await installations(project, principal: principal, activeOnly: false))
    }
}

extension Installation: ResponseEncodable {}
extension Usage: ResponseEncodable {}
