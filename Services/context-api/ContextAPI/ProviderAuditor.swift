import FlukeRuntime
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// Checks, on a schedule, that each registry entry's documentation URL answers (see
/// ``DocsFetcher``), and records when and with what result. One replica audits at a time, through
/// a lease row renewed after each entry rather than a session lock: the audit holds no pooled
/// connection while it waits on the network, so a slow documentation site cannot starve the
/// service's requests of connections. `POST /api/v1/ai_providers/audit` runs it now for the
/// fleet's entries and the caller's tenant's.
final class ProviderAuditor: Service, Sendable {
    let store: ProviderStore
    let fetcher: DocsFetcher
    let interval: Duration
    let logger: Logger
    private let signal = WakeSignal()

    init(store: ProviderStore, policy: OutboundURLPolicy, interval: Duration, timeout: Duration, maxBytes: Int, logger: Logger) {
        self.store = store
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        fetcher = DocsFetcher(policy: policy, timeout: timeout, maxBytes: maxBytes, threadPool: threadPool)
        self.interval = interval
        self.logger = logger
    }

    /// Longer than one entry's check: the lease is renewed after each.
    private var lease: Duration { fetcher.timeout * 2 + .seconds(30) }

    func run() async throws {
        await withGracefulShutdownHandler {
            // The first audit shortly after startup, then on the interval.
            await signal.wait(timeout: .seconds(5))
            while !signal.isFinished && !Task.isCancelled {
                do { try await auditAll() } catch { logger.warning("provider audit failed", metadata: ["error": "\(error)"]) }
                await signal.wait(timeout: interval)
            }
        } onGracefulShutdown: { [signal] in signal.finish() }
        try? await fetcher.threadPool.shutdownGracefully()
    }

    /// Audits every entry (`tenant` nil), or the fleet's and `tenant`'s; returns how many were
    /// checked (0 when another replica is at it).
    @discardableResult
    func auditAll(tenant: UUID? = nil) async throws -> Int {
        // A holder per run, so that a requested audit and the scheduled one exclude each other
        // within one replica too.
        let holder = UUID()
        guard try await store.lease(holder, for: lease) else { return 0 }
        do {
            let targets = try await store.targets(tenant: tenant)
            for target in targets {
                let (ok, detail) = await fetcher.check(target.docsURL)
                try await store.record(target, ok: ok, detail: detail)
                guard try await store.lease(holder, for: lease) else {
                    logger.warning("provider audit lease lost; another replica continues")
                    return targets.count
                }
            }
            try await store.release(holder)
            return targets.count
        } catch {
            try? await store.release(holder)
            throw error
        }
    }
}
