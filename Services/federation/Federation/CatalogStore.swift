import FlukeRuntime
import Logging
import ServiceLifecycle
import Synchronization
import UnixSignals

/// The catalog in force: read once at startup (invalid → the process exits), re-read on SIGHUP
/// (invalid → the old catalog stays, the reason is logged and counted).
public final class CatalogStore: Sendable {
    let path: String
    let repository: StatusStore
    let metrics: FederationMetrics
    let logger: Logger
    private let current: Mutex<(projects: [CatalogProject], bySlug: [String: CatalogProject])>

    init(path: String, initial: [CatalogProject], repository: StatusStore, metrics: FederationMetrics,
         logger: Logger) {
        self.path = path
        self.repository = repository
        self.metrics = metrics
        self.logger = logger
        current = Mutex((initial, Self.index(initial)))
        metrics.catalogSize.set(Double(initial.count))
    }

    public var projects: [CatalogProject] { current.withLock { $0.projects } }

    public func contains(_ slug: String) -> Bool { current.withLock { $0.bySlug[slug] != nil } }

    public func project(_ slug: String) -> CatalogProject? { current.withLock { $0.bySlug[slug] } }

    private static func index(_ projects: [CatalogProject]) -> [String: CatalogProject] {
        Dictionary(projects.map { ($0.slug, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Re-reads the file. Returns false (keeping the old catalog) when it is invalid.
    @discardableResult
    public func reload() async -> Bool {
        do {
            let projects = try CatalogLoader.load(path: path)
            try await repository.syncCatalog(projects)
            current.withLock { $0 = (projects, Self.index(projects)) }
            metrics.catalogSize.set(Double(projects.count))
            logger.info("catalog reloaded", metadata: ["projects": "\(projects.count)"])
            return true
        } catch {
            metrics.reloadFailures.increment()
            logger.error("catalog reload refused; keeping the previous catalog", metadata: ["reason": "\(error)"])
            return false
        }
    }
}

/// Reloads the catalog on SIGHUP.
struct CatalogReloader: Service {
    let store: CatalogStore

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            await store.reload()
        }
    }
}
