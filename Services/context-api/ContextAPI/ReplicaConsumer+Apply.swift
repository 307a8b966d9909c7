import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation

// One function per replicated event type, each in the caller's transaction after the event was
// recorded as processed. Every write is conditional on `source_time`, so an older event arriving
// late changes nothing; what did change goes into the changes feed.
extension ReplicaConsumer {
    static func upsertProject(_ payload: ProjectPayload, _ target: Target, on tx: PostgresHandle) async throws {
        let project = target.project
        let changed = try await tx.query("""
            INSERT INTO context.projects (id, tenant_id, name, description, stage, repository_url, source_time)
            VALUES (\(project), \(target.tenant), \(payload.name ?? ""), \(payload.description ?? ""),
                    \(payload.stage ?? "idea"), \(payload.repositoryURL), \(target.at))
            ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
                stage = EXCLUDED.stage, repository_url = EXCLUDED.repository_url, source_time = EXCLUDED.source_time,
                updated_at = now()
            WHERE context.projects.source_time <= EXCLUDED.source_time AND NOT context.projects.deleted
            """).affectedRows
        guard changed == 1 else { return }
        try await ChangeLog.append(project, tenant: target.tenant, entity: "project", id: project.lowercased, op: "upsert",
                                   data: .object(["id": .string(project.lowercased), "name": .optional(payload.name),
                                                  "description": .optional(payload.description),
                                                  "stage": .optional(payload.stage)]), on: tx)
    }

    static func deleteProject(_ target: Target, on tx: PostgresHandle) async throws {
        let project = target.project
        try await tx.query("""
            INSERT INTO context.projects (id, tenant_id, name, stage, deleted, source_time)
            VALUES (\(project), \(target.tenant), '', 'idea', true, \(target.at))
            ON CONFLICT (id) DO UPDATE SET deleted = true, source_time = EXCLUDED.source_time, updated_at = now()
            """)
        try await ChangeLog.append(project, tenant: target.tenant, entity: "project", id: project.lowercased, op: "delete",
                                   data: .object(["id": .string(project.lowercased)]), on: tx)
    }

    static func upsertMember(_ payload: MemberAddedPayload, _ target: Target, on tx: PostgresHandle) async throws {
        let user = payload.userID
        let changed = try await tx.query("""
            INSERT INTO context.team_members (project_id, user_id, tenant_id, name, email, role, source_time)
            VALUES (\(target.project), \(user), \(target.tenant), \(payload.name ?? ""), \(payload.email ?? ""),
                    \(payload.role ?? "developer"), \(target.at))
            ON CONFLICT (project_id, user_id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email,
                role = EXCLUDED.role, source_time = EXCLUDED.source_time
            WHERE context.team_members.source_time <= EXCLUDED.source_time
            """).affectedRows
        guard changed == 1 else { return }
        try await ChangeLog.append(target.project, tenant: target.tenant, entity: "team_member", id: user.lowercased,
                                   op: "upsert",
                                   data: .object(["user_id": .string(user.lowercased), "name": .optional(payload.name),
                                                  "email": .optional(payload.email), "role": .optional(payload.role)]),
                                   on: tx)
    }

    static func removeMember(_ payload: MemberRemovedPayload, _ target: Target, on tx: PostgresHandle) async throws {
        let user = payload.userID
        let removed = try await tx.query("""
            DELETE FROM context.team_members
            WHERE project_id = \(target.project) AND user_id = \(user) AND source_time <= \(target.at)
            """).affectedRows
        guard removed == 1 else { return }
        try await ChangeLog.append(target.project, tenant: target.tenant, entity: "team_member", id: user.lowercased,
                                   op: "delete", data: .object(["user_id": .string(user.lowercased)]), on: tx)
    }

    static func upsertMilestone(_ payload: MilestonePayload, _ target: Target, on tx: PostgresHandle) async throws {
        let id = payload.id
        let deleted = payload.deleted == true
        let changed = try await tx.query("""
            INSERT INTO context.milestones (id, project_id, tenant_id, title, description, due_date, status, deleted, source_time)
            VALUES (\(id), \(target.project), \(target.tenant), \(payload.title ?? ""), \(payload.description ?? ""),
                    \(payload.dueDate), \(payload.status ?? "planned"), \(deleted), \(target.at))
            ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, description = EXCLUDED.description,
                due_date = EXCLUDED.due_date, status = EXCLUDED.status, deleted = EXCLUDED.deleted,
                source_time = EXCLUDED.source_time
            WHERE context.milestones.source_time <= EXCLUDED.source_time AND NOT context.milestones.deleted
            """).affectedRows
        guard changed == 1 else { return }
        var data: [String: JSONValue] = ["id": .string(id.lowercased)]
        if !deleted {
            data["title"] = .optional(payload.title)
            data["description"] = .optional(payload.description)
            data["due_date"] = .optional(payload.dueDate)
            data["status"] = .optional(payload.status)
        }
        try await ChangeLog.append(target.project, tenant: target.tenant, entity: "milestone", id: id.lowercased,
                                   op: deleted ? "delete" : "upsert", data: .object(data), on: tx)
    }
}

extension JSONValue {
    /// `text` as a JSON string, or null.
    fileprivate static func optional(_ text: String?) -> JSONValue { text.map(JSONValue.string) ?? .null }
}
