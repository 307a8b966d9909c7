import Prometheus

/// federation's metrics, on the service's own registry.
public struct FederationMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let received: Counter
    let latency: DurationHistogram
    let staleRuns: Counter
    let staleDuration: DurationHistogram
    let reloadFailures: Counter
    let catalogSize: Gauge
    let dropped: Counter

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        received = registry.makeCounter(name: "federation_heartbeats_received_total",
                                        help: "Heartbeats received on fluke.federation.heartbeat.>")
        latency = registry.makeDurationHistogram(
            name: "federation_heartbeat_latency_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
                      .milliseconds(500), .seconds(1), .seconds(5), .seconds(30)],
            help: "Time from a heartbeat's timestamp to its receipt")
        staleRuns = registry.makeCounter(name: "federation_stale_checker_runs_total", help: "Stale checks run")
        staleDuration = registry.makeDurationHistogram(
            name: "federation_stale_checker_duration_seconds",
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(500),
                      .seconds(2)],
            help: "Duration of one stale check")
        reloadFailures = registry.makeCounter(name: "federation_catalog_reload_failures_total",
                                              help: "Catalog reloads refused because the new file was invalid")
        catalogSize = registry.makeGauge(name: "federation_catalog_projects_total", help: "Projects in the catalog")
        dropped = registry.makeCounter(name: "federation_heartbeats_dropped_total",
                                       help: "Accepted heartbeats Postgres refused twice, dropped so later ones are stored")
        for reason in HeartbeatRejection.allCases { _ = rejected(reason) }
        for status in ProjectStatus.allCases { _ = projects(status); _ = transitions(to: status) }
    }

    func rejected(_ reason: HeartbeatRejection) -> Counter {
        registry.makeCounter(name: "federation_heartbeats_rejected_total", labels: [("reason", reason.rawValue)])
    }

    func projects(_ status: ProjectStatus) -> Gauge {
        registry.makeGauge(name: "federation_projects", labels: [("status", status.rawValue)])
    }

    func transitions(to status: ProjectStatus) -> Counter {
        registry.makeCounter(name: "federation_status_transitions_total", labels: [("to", status.rawValue)])
    }
}
