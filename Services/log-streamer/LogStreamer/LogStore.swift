import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

/// `logs.entries`: batches stored as the intake takes them from `FLUKE_LOGS`, and the queries of
/// `GET /api/v1/logs`.
struct LogStore: Sendable {
    let db: TenantDatabase
    /// `LOGS_RETENTION_DAYS`, for making a missing day's partition.
    let retentionDays: Int

    /// Stores `rows` in one statement; an entry already stored (same tenant, id and timestamp: a
    /// redelivery, or a producer repeating itself) is skipped. Returns how many were new.
    ///
    /// A plain insert first: `ON CONFLICT DO NOTHING` makes Postgres insert each row
    /// speculatively, which cost a sixth of the insert, for the rare batch that repeats an entry.
    /// That batch fails as a whole and is inserted again skipping what is stored.
    ///
    /// An entry whose day has no partition yet (the keeper has not run since midnight, or a fresh
    /// schema) makes Postgres refuse the whole statement: the partitions are made and it is tried
    /// once more.
    @discardableResult
    func insert(_ rows: [StoredEntry]) async throws -> Int {
        guard !rows.isEmpty else { return 0 }
        do {
            return try await execute(Self.insertStatement(rows, skippingStored: false))
        } catch let error as PostgresError where error.isUniqueViolation {
            return try await execute(Self.insertStatement(rows, skippingStored: true))
        }
    }

    private func execute(_ statement: PostgresQuery) async throws -> Int {
        do {
            return try await db.pipelineAsSystem([statement])[0].affectedRows
        } catch let error as PostgresError where error.sqlState == "23514" {
            _ = try await db.pipelineAsSystem(["SELECT logs.ensure_partitions(\(retentionDays)::integer, 3)"])
            return try await db.pipelineAsSystem([statement])[0].affectedRows
        }
    }

    /// Binds are text and arrays of text only (no NULL elements), so nullable columns travel as
    /// empty strings and become NULL again in the SELECT. The entries travel as one JSON array
    /// (`jsonb_array_elements`), not as a text array: Postgres parses them once, as JSON, rather
    /// than first as an array literal whose every quote is escaped.
    static func insertStatement(_ rows: [StoredEntry], skippingStored: Bool) -> PostgresQuery {
        var tenants: [String] = [], times: [String] = [], seqs: [String] = [], ids: [String] = []
        var projects: [String] = [], apps: [String] = [], deployments: [String] = [], levels: [String] = []
        var events: [String] = []
        var entries = "["
        entries.reserveCapacity(rows.reduce(2) { $0 + $1.checked.json.utf8.count + 1 })
        for (index, row) in rows.enumerated() {
            let entry = row.checked.entry
            tenants.append(row.checked.tenantID.lowercased)
            times.append(PostgresTimestamp.format(entry.timestamp))
            seqs.append(String(row.seq))
            ids.append(entry.id)
            projects.append(entry.source.projectID?.lowercased ?? "")
            apps.append(entry.flukedeployMetadata?.appName ?? "")
            deployments.append(entry.flukedeployMetadata?.deploymentID?.lowercased ?? "")
            levels.append(String(entry.level.storedRank))
            events.append(entry.flukedeployMetadata?.eventType?.rawValue ?? "")
            if index > 0 { entries += "," }
            entries += row.checked.json
        }
        entries += "]"
        return """
            INSERT INTO logs.entries (tenant_id, ts, seq, id, project_id, app_name, deployment_id, level, event_type, entry)
            SELECT t::uuid, at::timestamptz, s::bigint, i, NULLIF(p, '')::uuid, NULLIF(a, ''), NULLIF(d, '')::uuid,
                   l::smallint, NULLIF(e, ''), j
            FROM ROWS FROM (unnest(\(tenants)::text[]), unnest(\(times)::text[]), unnest(\(seqs)::text[]), unnest(\(ids)::text[]),
                            unnest(\(projects)::text[]), unnest(\(apps)::text[]), unnest(\(deployments)::text[]),
                            unnest(\(levels)::text[]), unnest(\(events)::text[]), jsonb_array_elements(\(entries)::jsonb))
                 AS u(t, at, s, i, p, a, d, l, e, j)
            \(sql: skippingStored ? "ON CONFLICT DO NOTHING" : "")
            """
    }

    /// One page of `query` in the principal's tenant (row-level security, and the tenant named
    /// again so that the indexes, which all lead with it, serve every query).
    func list(_ query: LogQuery, principal: Principal) async throws -> LogPage {
        // One more than asked: whether a next page exists, without counting.
        let fetch = query.limit + 1
        let since = query.since, until = query.until, app = query.appName, deployment = query.deploymentID
        let level = query.minimumLevel, event = query.eventType?.rawValue, project = query.projectID
        let text = query.text, after = query.afterSequence, offset = query.offset
        let tenant = principal.tenantID
        // Two statements rather than one with a spliced direction: SQL text is never built from
        // input. Absent filters are NULL binds. PostgresConnection prepares each statement once
        // per connection, so after five runs Postgres may switch to a generic plan in which
        // `$n IS NULL OR …` no longer folds away; whether the partial indexes are still chosen
        // then has not been measured (plan_cache_mode).
        let statement: PostgresQuery
        if query.ascending {
            statement = """
                SELECT seq, entry::text FROM logs.entries
                WHERE tenant_id = \(tenant) AND ts >= \(since) AND (\(until)::timestamptz IS NULL OR ts < \(until))
                  AND (\(app)::text IS NULL OR app_name = \(app)) AND (\(deployment)::uuid IS NULL OR deployment_id = \(deployment))
                  AND level >= \(level) AND (\(event)::text IS NULL OR event_type = \(event))
                  AND (\(project)::uuid IS NULL OR project_id = \(project))
                  AND (\(text)::text IS NULL OR strpos(entry->>'message', \(text)) > 0)
                  AND (\(after)::bigint IS NULL OR seq > \(after))
                ORDER BY seq LIMIT \(fetch) OFFSET \(offset)
                """
        } else {
            statement = """
                SELECT seq, entry::text FROM logs.entries
                WHERE tenant_id = \(tenant) AND ts >= \(since) AND (\(until)::timestamptz IS NULL OR ts < \(until))
                  AND (\(app)::text IS NULL OR app_name = \(app)) AND (\(deployment)::uuid IS NULL OR deployment_id = \(deployment))
                  AND level >= \(level) AND (\(event)::text IS NULL OR event_type = \(event))
                  AND (\(project)::uuid IS NULL OR project_id = \(project))
                  AND (\(text)::text IS NULL OR strpos(entry->>'message', \(text)) > 0)
                  AND (\(after)::bigint IS NULL OR seq < \(after))
                ORDER BY seq DESC LIMIT \(fetch) OFFSET \(offset)
                """
        }
        let rows = try await db.read(principal, statement)[0]
        var items: [String] = []
        var last: Int64?
        for row in rows.rows.prefix(query.limit) {
            items.append(try row.decode(String.self, at: 1))
            last = try row.decode(Int64.self, at: 0)
        }
        let cursor = rows.count > query.limit ? last.map { LogCursor(ascending: query.ascending, after: $0, since: since).encoded } : nil
        return LogPage(items: items, nextCursor: cursor)
    }
    /// The sequence of the principal's entry `id` (the newest, should a producer have reused it).
    func sequence(of id: String, principal: Principal) async throws -> Int64? {
        let tenant = principal.tenantID
        let rows = try await db.read(principal, """
            SELECT seq FROM logs.entries WHERE tenant_id = \(tenant) AND id = \(id) ORDER BY seq DESC LIMIT 1
            """)[0]
        return try rows.rows.first?.decode(Int64.self, at: 0)
    }

    /// A live tail's resume: the principal's entries after sequence `after` up to `through`
    /// (and stamped after `since`), oldest first, as `filter` picks them.
    func replay(principal: Principal, filter: TailFilter, after: Int64, through: Int64, since: Date?, limit: Int)
        async throws -> [(seq: Int64, id: String, json: String)] {
        let tenant = principal.tenantID, app = filter.appName, deployment = filter.deploymentID
        let level = filter.minimumLevel?.storedRank ?? 0, event = filter.eventType?.rawValue, project = filter.projectID
        let rows = try await db.read(principal, """
            SELECT seq, id, entry::text FROM logs.entries
            WHERE tenant_id = \(tenant) AND seq > \(after) AND seq <= \(through)
              AND (\(since)::timestamptz IS NULL OR ts > \(since))
              AND (\(app)::text IS NULL OR app_name = \(app)) AND (\(deployment)::uuid IS NULL OR deployment_id = \(deployment))
              AND level >= \(level) AND (\(event)::text IS NULL OR event_type = \(event))
              AND (\(project)::uuid IS NULL OR project_id = \(project))
            ORDER BY seq LIMIT \(limit)
            """)[0]
        return try rows.rows.map { row in
            (try row.decode(Int64.self, at: 0), try row.decode(String.self, at: 1), try row.decode(String.self, at: 2))
        }
    }
}
