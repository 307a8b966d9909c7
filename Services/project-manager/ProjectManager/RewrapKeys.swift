import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Logging

/// `project-manager rewrap-keys`: once a new key is first in `FLUKE_ENCRYPTION_KEY` (the old one
/// still listed), re-wraps the data key of every sealed value (connections' credentials,
/// repository links' webhook secrets, pending GitHub sign-ins) under it. The values themselves
/// are never decrypted or changed; afterwards the old key may be dropped. Safe to run again, and
/// beside running replicas (each row is re-wrapped in its own locked update). Prints
/// `{"rewrapped": n, "current": m}`: how many moved, and how many were already under the key.
public enum RewrapKeys {
    public static func run(environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger) async throws -> String {
        let config = try PMConfig(reader: ConfigReader(environment: environment, variables: PMConfig.variables))
        guard let keyring = config.keyring else { throw ConfigError(Keyring.variable.name, "is required to re-wrap keys") }
        let (postgres, db) = try await config.commandDatabase("project-manager rewrap-keys", logger: logger)
        defer { Task { await postgres.shutdown() } }
        var moved = 0
        for table in Table.all(keyring.activeID) {
            moved += try await rewrap(table, keyring: keyring, db: db)
        }
        let current = try await db.readAsSystem(
            "SELECT count(*) FROM pm.connections WHERE kek_id = \(keyring.activeID)",
            "SELECT count(*) FROM pm.project_repositories WHERE webhook_kek_id = \(keyring.activeID)",
            "SELECT count(*) FROM pm.oauth_states WHERE kek_id = \(keyring.activeID)"
        ).reduce(0) { $0 + (try $1.first!.decode(Int.self, at: 0)) }
        await postgres.shutdown()
        return #"{"rewrapped":\#(moved),"current":\#(current - moved)}"#
    }

    /// Where sealed values live, and the associated data each was sealed with.
    struct Table: Sendable {
        var select: PostgresQuery
        var update: @Sendable (_ key: String, _ envelope: SealedEnvelope) -> PostgresQuery
        var context: @Sendable (PostgresRow) throws -> String

        static func all(_ active: String) -> [Table] {
            [
                Table(select: """
                    SELECT id::text AS key, kek_id, wrapped_key, sealed, tenant_id FROM pm.connections
                    WHERE kek_id <> \(active) LIMIT 200 FOR UPDATE SKIP LOCKED
                    """,
                      update: { key, e in "UPDATE pm.connections SET kek_id = \(e.kekID), wrapped_key = \(e.wrappedKey) WHERE id = \(key)::uuid" },
                      context: { row in ConnectionStore.context(tenant: try row.decode(UUID.self, "tenant_id"),
                                                                id: UUID(uuidString: try row.decode(String.self, "key"))!) }),
                Table(select: """
                    SELECT project_id::text AS key, webhook_kek_id AS kek_id, webhook_wrapped_key AS wrapped_key, webhook_sealed AS sealed,
                           tenant_id FROM pm.project_repositories WHERE webhook_kek_id <> \(active) LIMIT 200 FOR UPDATE SKIP LOCKED
                    """,
                      update: { key, e in
                          "UPDATE pm.project_repositories SET webhook_kek_id = \(e.kekID), webhook_wrapped_key = \(e.wrappedKey) WHERE project_id = \(key)::uuid"
                      },
                      context: { row in RepositoryStore.context(tenant: try row.decode(UUID.self, "tenant_id"),
                                                                project: UUID(uuidString: try row.decode(String.self, "key"))!) }),
                Table(select: """
                    SELECT state_hash AS key, kek_id, wrapped_key, sealed FROM pm.oauth_states
                    WHERE kek_id <> \(active) LIMIT 200 FOR UPDATE SKIP LOCKED
                    """,
                      update: { key, e in "UPDATE pm.oauth_states SET kek_id = \(e.kekID), wrapped_key = \(e.wrappedKey) WHERE state_hash = \(key)" },
                      context: { row in GitHubLogin.stateContext(try row.decode(String.self, "key")) }),
            ]
        }
    }

    /// Re-wraps `table`'s rows not under the active key, 200 at a time; returns how many.
    static func rewrap(_ table: Table, keyring: Keyring, db: TenantDatabase) async throws -> Int {
        var total = 0
        while true {
            let done = try await db.asSystem { tx in
                var n = 0
                for row in try await tx.query(table.select) {
                    let envelope = SealedEnvelope(kekID: try row.decode(String.self, "kek_id"), wrappedKey: try row.decode(String.self, "wrapped_key"),
                                                  sealed: try row.decode(String.self, "sealed"))
                    let next = try keyring.rewrap(envelope, context: try table.context(row))
                    try await tx.query(table.update(try row.decode(String.self, "key"), next))
                    n += 1
                }
                return n
            }
            total += done
            if done == 0 { return total }
        }
    }
}
