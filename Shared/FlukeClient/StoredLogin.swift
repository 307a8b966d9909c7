import Foundation

/// What `fluke login` keeps under `$XDG_CONFIG_HOME/fluke/login.json` (mode 600): a refresh
/// token from project-manager (exchanged for an access token on use), or an `fbk_` token given
/// with `--token`, and the project-manager URL it belongs to.
public struct StoredLogin: Codable, Sendable, Equatable {
    public var refreshToken: String?
    public var token: String?
    public var projectManagerURL: String?

    public init(refreshToken: String? = nil, token: String? = nil, projectManagerURL: String? = nil) {
        self.refreshToken = refreshToken
        self.token = token
        self.projectManagerURL = projectManagerURL
    }

    enum CodingKeys: String, CodingKey {
        case refreshToken = "refresh_token", token, projectManagerURL = "project_manager_url"
    }

    var urls: [FleetService: URL] {
        guard let raw = projectManagerURL, let url = URL(string: raw) else { return [:] }
        return [.projectManager: url]
    }

    /// `$XDG_CONFIG_HOME/fluke/login.json`, `~/.config/fluke/login.json` without it.
    public static func path(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        configDirectory(environment) + "/login.json"
    }

    /// `$XDG_CONFIG_HOME/fluke`, `~/.config/fluke` without it: the login and the config file.
    static func configDirectory(_ environment: [String: String]) -> String {
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.config")
        return base + "/fluke"
    }

    public static func read(environment: [String: String] = ProcessInfo.processInfo.environment) -> StoredLogin? {
        guard let data = FileManager.default.contents(atPath: path(environment: environment)) else { return nil }
        return try? JSONDecoder().decode(StoredLogin.self, from: data)
    }

    /// Written readable by its owner only (the directory too), replacing any earlier login.
    public func write(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let file = Self.path(environment: environment)
        let directory = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let data = try JSONEncoder().encode(self)
        let temporary = file + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw FlukeClientError(service: nil, status: 0, title: "Not saved", detail: "cannot write \(temporary)")
        }
        guard rename(temporary, file) == 0 else {
            throw FlukeClientError(service: nil, status: 0, title: "Not saved", detail: "cannot replace \(file)")
        }
    }

    public static func remove(environment: [String: String] = ProcessInfo.processInfo.environment) {
        try? FileManager.default.removeItem(atPath: path(environment: environment))
    }
}
