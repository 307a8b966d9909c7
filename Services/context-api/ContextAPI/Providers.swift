import FlukeModels
import FlukePostgres
import FlukeRuntime
import Foundation
import Hummingbird
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ServiceLifecycle

public struct AIProvider: Codable, Sendable {
    public var name: String
    public var displayName: String
    public var tools: [String]
    public var docsURL: String
    public var lastAudit: Date?
    public var status: String
    public var detail: String?
    enum CodingKeys: String, CodingKey {
        case name, tools, status, detail
        case displayName = "display_name", docsURL = "docs_url", lastAudit = "last_audit"
    }
}

/// The AI provider registry (seeded with the northstar's providers and tools; admins edit it) and
/// the record of each provider's last documentation audit.
struct ProviderStore: Sendable {
    let postgres: PostgresClient

    func all() async throws -> [AIProvider] {
        try await postgres.query("""
            SELECT name, display_name, tools, docs_url, last_audit, last_audit_status, last_audit_detail
            FROM context.ai_providers ORDER BY name
            """).map {
            AIProvider(name: try $0.decode(String.self, at: 0), displayName: try $0.decode(String.self, at: 1),
                       tools: try $0.decode([String].self, at: 2), docsURL: try $0.decode(String.self, at: 3),
                       lastAudit: try $0.decode(Date?.self, at: 4), status: try $0.decode(String.self, at: 5),
                       detail: try $0.decode(String?.self, at: 6))
        }
    }

    func upsert(name: String, displayName: String, tools: [String], docsURL: String) async throws -> (AIProvider, created: Bool) {
        let created = try await postgres.query("""
            INSERT INTO context.ai_providers (name, display_name, tools, docs_url) VALUES (\(name), \(displayName), \(tools)::text[], \(docsURL))
            ON CONFLICT (name) DO UPDATE SET display_name = EXCLUDED.display_name, tools = EXCLUDED.tools,
                docs_url = EXCLUDED.docs_url, updated_at = now(),
                last_audit_status = CASE WHEN context.ai_providers.docs_url = EXCLUDED.docs_url
                                         THEN context.ai_providers.last_audit_status ELSE 'pending' END
            RETURNING (xmax = 0)
            """).first!.decode(Bool.self, at: 0)
        return (try await all().first { $0.name == name }!, created)
    }

    func delete(_ name: String) async throws {
        guard try await postgres.query("DELETE FROM context.ai_providers WHERE name = \(name)").affectedRows == 1 else {
            throw Problem.notFound("no provider named \(name)")
        }
    }

    func record(_ name: String, ok: Bool, detail: String) async throws {
        try await postgres.query("""
            UPDATE context.ai_providers SET last_audit = now(), last_audit_status = \(ok ? "ok" : "failed"),
                last_audit_detail = \(detail) WHERE name = \(name)
            """)
    }
}

/// Checks, on a schedule, that each provider's documentation URL answers (HEAD, falling back to
/// GET; 2xx or 3xx is ok), and records when and with what result. One replica audits at a time
/// (advisory lock); `POST /api/v1/ai_providers/audit` runs it now.
final class ProviderAuditor: Service, Sendable {
    let store: ProviderStore
    let interval: Duration
    let timeout: TimeInterval
    let logger: Logger
    private let signal = WakeSignal()

    init(store: ProviderStore, interval: Duration, timeout: TimeInterval = 10, logger: Logger) {
        self.store = store
        self.interval = interval
        self.timeout = timeout
        self.logger = logger
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            // The first audit shortly after startup, then on the interval.
            await signal.wait(timeout: .seconds(5))
            while !signal.isFinished && !Task.isCancelled {
                do { try await auditAll() } catch { logger.warning("provider audit failed", metadata: ["error": "\(error)"]) }
                await signal.wait(timeout: interval)
            }
        } onGracefulShutdown: { [signal] in signal.finish() }
    }

    /// Audits every provider now; returns how many were checked (0 when another replica is at it).
    @discardableResult
    func auditAll() async throws -> Int {
        try await store.postgres.withConnection { conn in
            guard try await conn.query("SELECT pg_try_advisory_lock(hashtext('fluke.context.provider_audit'))")
                .first?.decode(Bool.self, at: 0) == true else { return 0 }
            do {
                let providers = try await store.all()
                for provider in providers {
                    let (ok, detail) = await check(provider.docsURL)
                    try await store.record(provider.name, ok: ok, detail: detail)
                }
                try await conn.query("SELECT pg_advisory_unlock(hashtext('fluke.context.provider_audit'))")
                return providers.count
            } catch {
                // A session lock must not ride back into the pool.
                _ = try? await conn.query("SELECT pg_advisory_unlock(hashtext('fluke.context.provider_audit'))")
                throw error
            }
        }
    }

    func check(_ url: String) async -> (Bool, String) {
        guard let target = URL(string: url), ["http", "https"].contains(target.scheme ?? "") else {
            return (false, "not an http(s) URL")
        }
        for method in ["HEAD", "GET"] {
            var request = URLRequest(url: target, timeoutInterval: timeout)
            request.httpMethod = method
            request.setValue("flukebase-fleet context-api provider audit", forHTTPHeaderField: "User-Agent")
            do {
                let (_, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if (200..<400).contains(status) { return (true, "\(method) \(status)") }
                if method == "HEAD" && (status == 405 || status == 501) { continue }
                return (false, "\(method) \(status)")
            } catch {
                return (false, "\(method) failed: \(error.localizedDescription)")
            }
        }
        return (false, "no answer")
    }
}

extension AIProvider: ResponseEncodable {}
