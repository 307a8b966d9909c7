import FlukePostgres
import FlukeRuntime
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// The dispatcher's metrics: deliveries by outcome, attempt latency, end-to-end lag from the
/// event's time to its successful delivery, and the queue's depth (read every few seconds).
final class WebhookMetrics: Sendable {
    let eventsReceived: Counter
    let deliveriesCreated: Counter
    let succeeded: Counter
    let retrying: Counter
    let failed: Counter
    let attemptDuration: DurationHistogram
    let lag: DurationHistogram
    let pending: Gauge
    let delayed: Gauge
    let dead: Gauge

    init(registry: PrometheusCollectorRegistry) {
        eventsReceived = registry.makeCounter(name: "webhook_events_received_total", help: "Fleet events taken in")
        deliveriesCreated = registry.makeCounter(name: "webhook_deliveries_created_total", help: "Deliveries recorded by the intake")
        let help = "Delivery attempts recorded, by outcome (retrying: failed with attempts left)"
        succeeded = registry.makeCounter(name: "webhook_deliveries_total", labels: [("outcome", "succeeded")], help: help)
        retrying = registry.makeCounter(name: "webhook_deliveries_total", labels: [("outcome", "retrying")], help: help)
        failed = registry.makeCounter(name: "webhook_deliveries_total", labels: [("outcome", "failed")], help: help)
        attemptDuration = registry.makeDurationHistogram(
            name: "webhook_attempt_duration_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                      .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
                      .seconds(10), .seconds(15)],
            help: "Time of one delivery attempt")
        lag = registry.makeDurationHistogram(
            name: "webhook_delivery_lag_seconds",
            buckets: [.milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                      .milliseconds(500), .seconds(1), .seconds(5), .seconds(30), .seconds(300), .seconds(3600), .seconds(86_400)],
            help: "From the event's time to its successful delivery")
        let depth = "Deliveries in the queue: pending (due), delayed (waiting for a retry), dead (failed)"
        pending = registry.makeGauge(name: "webhook_queue_depth", labels: [("state", "pending")], help: depth)
        delayed = registry.makeGauge(name: "webhook_queue_depth", labels: [("state", "delayed")], help: depth)
        dead = registry.makeGauge(name: "webhook_queue_depth", labels: [("state", "dead")], help: depth)
    }

    func record(_ outcomes: [DeliveryQueue.Outcome]) {
        let now = Date()
        for o in outcomes {
            if o.succeeded {
                succeeded.increment()
                lag.recordNanoseconds(Int64(max(0, now.timeIntervalSince(o.delivery.eventTime)) * 1e9))
            } else if o.gone || o.delivery.attempt >= o.delivery.maxAttempts {
                failed.increment()
            } else {
                retrying.increment()
            }
        }
    }
}

/// Reads the queue's depth every few seconds for the gauges.
struct QueueDepthSampler: Service {
    /// Counts over every tenant's deliveries: the fleet's own reading.
    let db: TenantDatabase
    let metrics: WebhookMetrics
    let interval: Duration

    func run() async throws {
        while !Task.isShuttingDownGracefully {
            if let row = try? await db.readAsSystem("""
                SELECT (SELECT count(*) FROM webhooks.deliveries WHERE status = 'pending' AND next_attempt_at <= now()),
                       (SELECT count(*) FROM webhooks.deliveries WHERE status = 'pending' AND next_attempt_at > now()),
                       (SELECT count(*) FROM webhooks.deliveries WHERE status = 'failed')
                """)[0].first {
                metrics.pending.set(Double((try? row.decode(Int.self, at: 0)) ?? 0))
                metrics.delayed.set(Double((try? row.decode(Int.self, at: 1)) ?? 0))
                metrics.dead.set(Double((try? row.decode(Int.self, at: 2)) ?? 0))
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
