import AsyncHTTPClient
import Foundation
import NIOCore

/// HTTP GET of a replica's health path: 2xx and 3xx are healthy.
enum HealthChecker {
    /// A client whose requests fail at once on a refused connection. The shared one retries a
    /// refused connect with backoff (100 ms, then longer) until its timeout, which would hide a
    /// starting replica's first answer behind that backoff.
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// One check: nil when healthy, else why not.
    static func probe(port: Int, check: AppSpec.HealthCheck) async -> String? {
        let path = check.path.hasPrefix("/") ? check.path : "/" + check.path
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.headers.add(name: "Connection", value: "close")
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(max(1, check.timeout))))
            _ = try? await response.body.collect(upTo: 1 << 20)
            return (200..<400).contains(Int(response.status.code)) ? nil : "answered \(response.status.code)"
        } catch {
            return "\(error)"
        }
    }

    /// Waits until the replica answers its health check. Failures during `start_period` do not
    /// count, and it is polled often then (from 2 ms, backing off to 25 ms; a refused connection
    /// costs next to nothing), so a quick app is seen at once; afterwards one check every
    /// `interval`, unhealthy after `retries` failures in a row.
    ///
    /// - Throws: `.replicaStartup` when `isRunning` says it exited first, `.healthCheck` when it
    ///   never got healthy.
    static func waitUntilHealthy(_ replica: ReplicaRecord, check: AppSpec.HealthCheck, log: DeployLog,
                                 isRunning: @Sendable () async -> Bool) async throws {
        let started = ContinuousClock.now
        let startPeriod = Duration.seconds(check.startPeriod)
        var failures = 0
        var lastReason = ""
        var startPoll = PollInterval(from: .milliseconds(2), to: .milliseconds(25))
        while true {
            try Task.checkCancellation()
            guard await isRunning() else {
                await log.step(.error, .healthCheck, "replica \(replica.id) (\(replica.version)) exited before it was healthy")
                throw DeployFailure(.replicaStartup, "replica \(replica.id) of \(replica.version) exited before it was healthy")
            }
            if let reason = await probe(port: replica.port, check: check) {
                lastReason = reason
                let inStartPeriod = ContinuousClock.now - started < startPeriod
                if !inStartPeriod {
                    failures += 1
                    await log.step(.warn, .healthCheck,
                                   "replica \(replica.id) health check \(failures)/\(check.retries) failed: \(reason)")
                    if failures >= max(1, check.retries) {
                        throw DeployFailure(.healthCheck, "replica \(replica.id) of \(replica.version) never got healthy: \(lastReason)")
                    }
                }
                if inStartPeriod {
                    try await startPoll.sleep()
                } else {
                    try await Task.sleep(for: .seconds(max(1, check.interval)))
                }
            } else {
                await log.step(.info, .healthCheck, "replica \(replica.id) (\(replica.version)) on port \(replica.port) is healthy")
                return
            }
        }
    }
}
