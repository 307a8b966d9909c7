import Foundation

/// One app of one tenant, as the process executor files it: `apps/<tenant>/<app>/`.
struct AppKey: Hashable, Sendable, CustomStringConvertible {
    var tenantID: UUID
    var app: String

    var tenant: String { tenantID.uuidString.lowercased() }
    var description: String { "\(tenant)/\(app)" }
    /// A name nginx accepts for the upstream and the files of this app.
    var slug: String { tenant.replacingOccurrences(of: "-", with: "") + "_" + app.replacingOccurrences(of: "-", with: "_") }
}

/// A replica as recorded in `replicas/<id>.json`: enough for a restarted tracker to adopt it.
struct ReplicaRecord: Codable, Sendable, Equatable {
    var id: String
    /// The release it runs (`v3`).
    var version: String
    var port: Int
    var pid: Int32
    /// `/proc/<pid>/stat`'s start time: a pid reused by another process does not pass for it.
    var pidStartTime: UInt64
    var restarts: Int
    /// The release directory it runs in, and its start command.
    var directory: String
    var command: String
    /// Restarted when it dies. False while a rollout waits for its first healthy check: a replica
    /// that exits then fails the rollout rather than being restarted.
    var supervised: Bool

    var address: String { "127.0.0.1:\(port)" }

    enum CodingKeys: String, CodingKey {
        case id, version, port, pid, restarts, directory, command, supervised
        case pidStartTime = "pid_start_time"
    }
}

/// A kept release as the executor needs it to start more replicas (scale, restart, a rollback
/// within the blue-green window): no environment, which stays in memory.
struct ReleaseRecord: Codable, Sendable, Equatable {
    var version: String
    var directory: String
    var startCommand: String
    var healthCheck: AppSpec.HealthCheck
    var replicas: Int

    enum CodingKeys: String, CodingKey {
        case version, directory, replicas
        case startCommand = "start_command", healthCheck = "health_check"
    }
}

/// What an app serves (`state.json`): the upstream's replicas and weights, and the blue-green
/// standby set kept for its rollback window.
struct AppState: Codable, Sendable, Equatable {
    struct Member: Codable, Sendable, Equatable {
        var id: String
        var weight: Int
    }

    struct Standby: Codable, Sendable, Equatable {
        var release: ReleaseRecord
        var ids: [String]
        var until: Date
    }

    var port: Int
    var release: ReleaseRecord?
    var upstream: [Member] = []
    var standby: Standby?

    /// The replicas serving the current release (those in the upstream).
    var servingIDs: [String] { upstream.map(\.id) }
}

/// Where things live under `DEPLOY_DATA_DIR`.
struct ProcessLayout: Sendable {
    var root: URL

    var appsDirectory: URL { root.appendingPathComponent("apps") }
    var nginxDirectory: URL { root.appendingPathComponent("nginx") }
    func appDirectory(_ key: AppKey) -> URL {
        appsDirectory.appendingPathComponent(key.tenant).appendingPathComponent(key.app)
    }
    func releaseDirectory(_ key: AppKey, version: String) -> URL {
        appDirectory(key).appendingPathComponent("releases").appendingPathComponent(version)
    }
    func replicasDirectory(_ key: AppKey) -> URL { appDirectory(key).appendingPathComponent("replicas") }
    func recordFile(_ key: AppKey, id: String) -> URL { replicasDirectory(key).appendingPathComponent(id + ".json") }
    func logFile(_ key: AppKey, id: String) -> URL { replicasDirectory(key).appendingPathComponent(id + ".log") }
    func stateFile(_ key: AppKey) -> URL { appDirectory(key).appendingPathComponent("state.json") }

    /// Every app with a state file, as found on disk (what a restarted tracker adopts).
    func knownApps() -> [AppKey] {
        let fm = FileManager.default
        var keys: [AppKey] = []
        for tenant in (try? fm.contentsOfDirectory(atPath: appsDirectory.path)) ?? [] {
            guard let tenantID = UUID(uuidString: tenant) else { continue }
            for app in (try? fm.contentsOfDirectory(atPath: appsDirectory.appendingPathComponent(tenant).path)) ?? [] {
                let key = AppKey(tenantID: tenantID, app: app)
                if fm.fileExists(atPath: stateFile(key).path) { keys.append(key) }
            }
        }
        return keys
    }
}

/// JSON files written whole (a temporary file renamed over the old one): a crash leaves the old
/// or the new, never half of one.
enum JSONFile {
    static func write<T: Encodable>(_ value: T, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(value).write(to: url, options: .atomic)
    }

    static func read<T: Decodable>(_ type: T.Type, from url: URL) -> T? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(type, from: data)
    }
}
