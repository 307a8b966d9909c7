import FlukeNATS
import FlukeRuntime
import Foundation
import Hummingbird
import Logging
import NIOWebSocket

/// What a log-streamer process runs, for tests that reach inside.
public struct LogsParts: Sendable {
    public let runtime: FleetRuntime
    /// The routes served, as the OpenAPI document must list them.
    public let routes: RouteTable
    /// The partition keeper, for tests that run a round as of another day.
    public let keeper: PartitionKeeper
    /// Live tails open on this replica, by tenant.
    public let openTails: @Sendable (UUID) -> Int
}

/// Builds log-streamer: connects, checks its migrations, makes sure `FLUKE_LOGS` exists, and
/// assembles the partition keeper, the intake and the routes.
public func buildApplication(config: LogsConfig, logger: Logger,
                             onParts: @Sendable (LogsParts) -> Void = { _ in }) async throws -> some ApplicationProtocol {
    let runtime = try await FleetRuntime.start(config: config.common, migrator: LogsMigrations.migrator, logger: logger)
    // The intake acknowledges every entry it stores, thousands a second. On the service's
    // connection (sendAsap, for the latency of requests and of the outbox's publishes, each
    // awaited) every acknowledgement is a write of its own, and a wakeup of nats-server; on a
    // connection of its own, libnats' flusher gathers them (about 1 ms later) into a few writes
    // per batch. Measured in `make bench`: log-streamer's CPU for 200,000 entries stored fell from
    // 2.5–2.7 s to 2.0–2.1 s.
    var intakeConfiguration = config.common.natsClientConfiguration(sendAsap: false)
    intakeConfiguration.name += " intake"
    let intakeNATS: NATSClient
    do {
        try await config.stream.ensure(runtime.nats, config: config.common, logger: logger)
        intakeNATS = try await NATSClient.connect(intakeConfiguration, logger: logger,
                                                  attempts: config.common.startupAttempts, delay: config.common.startupDelay)
    } catch {
        await runtime.nats.shutdown()
        await runtime.postgres.shutdown()
        throw error
    }
    let (identity, authenticator) = config.auth.authentication(nats: runtime.nats, logger: logger)
    // Requests read in their caller's tenant, the intake and keeper work as the fleet (row-level security).
    let db = TenantDatabase(postgres: runtime.postgres, outbox: runtime.outbox)
    let validator = LogEntryValidator(retentionDays: config.retention.days)
    let store = LogStore(db: db, retentionDays: config.retention.days)
    let keeper = PartitionKeeper(postgres: runtime.postgres, retentionDays: config.retention.days,
                                 interval: config.common.retentionInterval, registry: runtime.registry, logger: logger)
    let intake = LogIntake(nats: intakeNATS, store: store, validator: validator,
                           deadLetters: DeadLetters(schema: "logs", consumer: LogIntake.durable,
                                                    maxDeliveries: config.common.consumerMaxDeliveries,
                                                    postgres: runtime.postgres, registry: runtime.registry, logger: logger),
                           batchSize: config.intakeBatch, registry: runtime.registry, logger: logger)
    let routes = LogsRoutes(store: store, publisher: LogPublisher(db: db), validator: validator,
                            maxBatchEntries: config.maxBatchEntries, authenticator: authenticator, logger: logger)
    let broadcaster = Broadcaster(ringCapacity: config.tail.ring, maxTailsPerTenant: config.tail.maxTailsPerTenant,
                                  registry: runtime.registry)
    // A revoked token's tails end at once, not at their next request (they make none).
    identity.cache.onRevoke { broadcaster.closeAll(tokenID: $0, code: .policyViolation, reason: "token revoked") }
    let liveTail = LiveTail(nats: runtime.nats, broadcaster: broadcaster, validator: validator, logger: logger)
    let sessions = TailSessions(broadcaster: broadcaster, store: store, nats: runtime.nats, settings: config.tail, logger: logger)
    let webSocket = WebSocketEndpoint(paths: TailRequest.paths, maxFrameSize: config.tail.maxMessageBytes) { head in
        do {
            let request = try await TailRequest.parse(uri: head.path ?? "/", authorization: head.headerFields[.authorization],
                                                      authenticator: authenticator)
            return .success { channel in await sessions.run(request, channel: channel) }
        } catch let problem as Problem {
            return .failure(problem)
        } catch {
            return .failure(Problem(.serviceUnavailable, detail: "the tail could not be opened: \(error)"))
        }
    }
    onParts(LogsParts(
        runtime: runtime,
        routes: FleetApplication.record(runtime: runtime, openAPI: openAPIDocument, routes: routes.register).table,
        keeper: keeper,
        openTails: { broadcaster.tails(of: $0) }))
    // The keeper starts before the intake (the intake still makes a missing day itself: see LogStore.insert).
    return FleetApplication.build(runtime: runtime, openAPI: openAPIDocument,
                                  // Stopped in reverse order: the intake before its connection.
                                  workers: [identity, keeper, intakeNATS, intake, liveTail, config.retention.job(runtime)],
                                  authenticator: authenticator,
                                  bodyLimits: ["/api/v1/logs": config.maxBodyBytes, "/v1/logs": config.maxBodyBytes],
                                  // OpenTelemetry exporters post to /v1/logs with the same bearer tokens.
                                  authPrefixes: ["/api/", "/v1/"],
                                  webSocket: webSocket,
                                  routes: routes.register)
}

/// The OpenAPI document served at `/openapi.json`: `openapi.json` in this folder, completed with
/// the parts every service shares.
let openAPIDocument = OpenAPIDocument.merged(PackageResources.openapi_json)
