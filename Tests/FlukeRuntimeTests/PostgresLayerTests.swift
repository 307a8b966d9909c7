import FlukePostgres
import FlukeTestSupport
import Foundation
import Testing

@Suite("Postgres layer over libpq", .needsPostgresAndNATS)
struct PostgresLayerTests {
    @Test("interpolations are bind parameters: hostile text round-trips and never runs as SQL")
    func parameters() async throws {
        try await TestDatabase.create().withAdminClient { db in
            try await db.query("CREATE TABLE t (id int, name text, tags text[], at timestamptz, ok bool, u uuid)")
            let hostile = "x'); DROP TABLE t; --"
            let tags = ["a,b", "c\"d", "e\\f", "NULL", "{}"]
            let at = Date(timeIntervalSince1970: 1_790_000_000.123456)
            let id = UUID()
            try await db.query("INSERT INTO t VALUES (\(1), \(hostile), \(tags), \(at), \(true), \(id))")
            let row = try #require(try await db.query("SELECT * FROM t WHERE name = \(hostile)").first)
            #expect(try row.decode(String.self, "name") == hostile)
            #expect(try row.decode([String].self, "tags") == tags)
            #expect(abs(try row.decode(Date.self, "at").timeIntervalSince(at)) < 0.000002)
            #expect(try row.decode(Bool.self, "ok") == true)
            #expect(try row.decode(UUID.self, "u") == id)
            #expect(try row.decode(String?.self, "name") != nil)
            let missing: String? = nil
            #expect(try await db.query("SELECT \(missing)::text AS v").first?.decode(String?.self, "v") == nil)
        }
    }

    @Test("a parameter holding a NUL is refused with a clear error, never sent cut short; the connection stays usable")
    func nulParameter() async throws {
        try await TestDatabase.create().withAdminClient { db in
            try await db.query("CREATE TABLE n (v text)")
            for statement: PostgresQuery in ["INSERT INTO n VALUES (\("kept\u{0}dropped"))",
                                             "SELECT length(\("ab\u{0}cd")::text) AS n"] {
                do {
                    try await db.query(statement)
                    Issue.record("a parameter holding a NUL was accepted: \(statement.sql)")
                } catch let error as PostgresError {
                    #expect(error.code == .invalidParameter && error.sqlState == "22021", "\(error)")
                    #expect(error.message.contains("$1") && error.message.contains("NUL"))
                }
            }
            // The same through a pipelined transaction: nothing of it is applied.
            await #expect(throws: PostgresError.self) {
                try await db.transaction(["INSERT INTO n VALUES (\("first"))", "INSERT INTO n VALUES (\("x\u{0}y"))"])
            }
            #expect(try await db.query("SELECT count(*) FROM n").first?.decode(Int.self, at: 0) == 0)
            // Tab, newline and other text pass whole.
            let text = "a\tb\nc\r d é"
            #expect(try await db.query("SELECT \(text)::text AS v").first?.decode(String.self, "v") == text)
        }
    }

    @Test("a pipelined transaction returns each statement's rows; an error rolls it all back and the connection stays usable")
    func pipelinedTransaction() async throws {
        try await TestDatabase.create().withAdminClient { db in
            try await db.query("CREATE TABLE p (id int PRIMARY KEY, v text)")
            let rows = try await db.transaction([
                "SELECT set_config('app.x', \("42"), true)", "INSERT INTO p VALUES (\(1), \("one"))",
                "SELECT current_setting('app.x') AS x, (SELECT count(*) FROM p) AS n",
            ])
            #expect(rows.count == 3)
            #expect(try rows[2].first?.decode(String.self, "x") == "42")
            #expect(try rows[2].first?.decode(Int.self, "n") == 1)
            // The setting was transaction-local.
            #expect(try await db.query("SELECT current_setting('app.x', true) AS x").first?.decode(String?.self, "x") ?? "" == "")
            await #expect(throws: PostgresError.self) {
                try await db.transaction(["INSERT INTO p VALUES (\(2), \("two"))", "INSERT INTO p VALUES (\(1), \("dup"))",
                                          "INSERT INTO p VALUES (\(3), \("three"))"])
            }
            #expect(try await db.query("SELECT count(*) FROM p").first?.decode(Int.self, at: 0) == 1)
            for _ in 0..<3 {
                #expect(try await db.transaction(["SELECT 1 AS one"]).first?.first?.decode(Int.self, "one") == 1)
            }
        }
    }

    @Test("errors carry SQLSTATE; a failed transaction rolls back entirely")
    func errorsAndTransactions() async throws {
        try await TestDatabase.create().withAdminClient { db in
            try await db.query("CREATE TABLE t (id int PRIMARY KEY)")
            await #expect(throws: PostgresError.self) {
                try await db.withTransaction { tx in
                    try await tx.query("INSERT INTO t VALUES (\(1))")
                    try await tx.query("INSERT INTO t VALUES (\(1))")
                }
        }
        do {
            try await db.query("INSERT INTO t VALUES (\(2))")
            try await db.query("INSERT INTO t VALUES (\(2))")
            Issue.record("duplicate accepted")
        } catch let error as PostgresError {
            #expect(error.isUniqueViolation)
            #expect(error.code == .queryFailed)
        }
        #expect(try await db.query("SELECT count(*) FROM t").first?.decode(Int.self, at: 0) == 1)
        // set_config(..., true) lives and dies with its transaction, never with the pooled session.
        let inside = try await db.withTransaction { tx -> String? in
            try await tx.setLocal("app.tenant_id", "tenant-a")
            return try await tx.query("SELECT current_setting('app.tenant_id', true) AS v").first?.decode(String?.self, "v")
        }
        #expect(inside == "tenant-a")
        let after = try await db.query("SELECT current_setting('app.tenant_id', true) AS v").first?.decode(String?.self, "v")
        #expect(after == nil || after == "")
        }
    }

    @Test("migrations apply once even when replicas start together, and are recorded")
    func migrations() async throws {
        let database = try await TestDatabase.create()
        let migrator = PostgresMigrator(schema: "deploy", migrations: [
            PostgresMigration("0001_a", "CREATE TABLE deploy.a (id int); INSERT INTO deploy.a VALUES (1);"),
            PostgresMigration("0002_b", "INSERT INTO deploy.a VALUES (2);"),
        ])
        let clients = (0..<4).map { _ in
            PostgresClient(configuration: .init(url: database.url(role: migrator.ownerRole), applicationName: "m",
                                                maxConnections: 1), logger: TestEnvironment.logger)
        }
        let applied = try await withThrowingTaskGroup(of: [String].self) { group in
            for client in clients { group.addTask { try await migrator.migrate(client, logger: TestEnvironment.logger) } }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        #expect(applied.sorted() == ["0001_a", "0002_b"])
        let rows = try await clients[0].query("SELECT count(*) FROM deploy.a").first?.decode(Int.self, at: 0)
        #expect(rows == 2)
        let recorded = try await clients[0].query("SELECT version FROM deploy.schema_migrations ORDER BY version")
            .map { try $0.decode(String.self, at: 0) }
        #expect(recorded == ["0001_a", "0002_b"])
        // A service role cannot touch another service's schema.
        await #expect(throws: PostgresError.self) { try await clients[0].query("CREATE TABLE federation.x (id int)") }
        for client in clients { await client.shutdown() }
    }

    @Test("the pool bounds connections, queues callers, and replaces connections broken by a restart")
    func pool() async throws {
        let server = try PostgresServer()
        let db = PostgresClient(configuration: .init(url: server.adminURL, applicationName: "p", maxConnections: 3,
                                                     acquireTimeout: .seconds(20)), logger: TestEnvironment.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<12 { group.addTask { try await db.query("SELECT pg_sleep(0.05)") } }
            try await group.waitForAll()
        }
        #expect(db.openConnections <= 3)
        let backends = try await db.query("""
            SELECT count(*) FROM pg_stat_activity WHERE application_name = 'p'
            """).first?.decode(Int.self, at: 0)
        #expect((backends ?? 99) <= 3)
        try server.stop()
        await #expect(throws: PostgresError.self) { try await db.ping() }
        try server.start()
        try await eventually(timeout: .seconds(10), "queries work again") { try await db.ping(); return true }
        await db.shutdown()
    }
}

@Suite("Postgres LISTEN/NOTIFY", .needsPostgresAndNATS)
struct PostgresListenerTests {
    @Test("a listener receives NOTIFY payloads in order, from committed transactions only, and says when it (re)connected")
    func listen() async throws {
        let db = try await TestDatabase.create()
        let listener = PostgresListener(url: db.adminURL, channels: ["jobs"], logger: TestEnvironment.logger)
        let runner = Task { try await listener.run() }
        var iterator = listener.notifications.makeAsyncIterator()
        #expect(await iterator.next() == .connected)
        try await db.withAdminClient { client in
            try await client.query("SELECT pg_notify('jobs', \("first"))")
            _ = try? await client.withTransaction { tx in
                try await tx.query("SELECT pg_notify('jobs', \("rolled back"))")
                throw PostgresError(.queryFailed, "abort")
            }
            try await client.query("SELECT pg_notify('other', \("not listened"))")
            try await client.query("SELECT pg_notify('jobs', \("second"))")
        }
        #expect(await iterator.next() == .notification(channel: "jobs", payload: "first"))
        #expect(await iterator.next() == .notification(channel: "jobs", payload: "second"))
        listener.stop()
        runner.cancel()
    }
}

extension PostgresListenerTests {
    @Test("after Postgres restarts, the listener reconnects, says so, and receives again")
    func reconnect() async throws {
        let server = try PostgresServer()
        let listener = PostgresListener(url: server.adminURL, channels: ["jobs"], reconnectDelay: .milliseconds(200),
                                        logger: TestEnvironment.logger)
        let runner = Task { try await listener.run() }
        var iterator = listener.notifications.makeAsyncIterator()
        #expect(await iterator.next() == .connected)
        try server.stop()
        try server.start()
        #expect(await iterator.next() == .connected)
        let client = PostgresClient(configuration: .init(url: server.adminURL, applicationName: "tests", maxConnections: 1),
                                    logger: TestEnvironment.logger)
        try await client.query("SELECT pg_notify('jobs', \("after restart"))")
        #expect(await iterator.next() == .notification(channel: "jobs", payload: "after restart"))
        await client.shutdown()
        listener.stop()
        runner.cancel()
        try server.stop()
    }
}
