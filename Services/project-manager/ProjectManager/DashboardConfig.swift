import Dashboard
import FlukeModels
import FlukeRuntime
import Foundation

/// Where the dashboard's files are and which URLs its pages may call.
public struct DashboardConfig: Sendable {
    /// `PM_UI_DIR`, or the folder in project-manager's resource bundle.
    public var folder: String
    /// Each service's URL as browsers reach it, by `config.json` key (`project_manager`, …).
    public var services: [(key: String, url: String)]
    /// Whether the sign-in page offers GitHub.
    public var githubLogin: Bool

    /// The services a page talks to, with the URLs `make run` gives them.
    static let publicURLs: [(key: String, variable: String, default: String)] = [
        ("project_manager", "FLUKE_PUBLIC_PROJECT_MANAGER_URL", ""),
        ("context_api", "FLUKE_PUBLIC_CONTEXT_API_URL", "http://127.0.0.1:8080"),
        ("webhook_dispatcher", "FLUKE_PUBLIC_WEBHOOK_DISPATCHER_URL", "http://127.0.0.1:8082"),
        ("deploy_tracker", "FLUKE_PUBLIC_DEPLOY_TRACKER_URL", "http://127.0.0.1:3000"),
        ("log_streamer", "FLUKE_PUBLIC_LOG_STREAMER_URL", "http://127.0.0.1:8767"),
        ("federation", "FLUKE_PUBLIC_FEDERATION_URL", "http://127.0.0.1:8001"),
    ]

    static let variables: [ConfigVariable] = [
        ConfigVariable("PM_UI_DIR", default: "", "folder of the dashboard's files served under /ui/ (default: the ones built into project-manager)"),
    ] + publicURLs.map { entry in
        ConfigVariable(entry.variable, default: entry.default,
                       entry.default.isEmpty ? "project-manager's URL as the dashboard's pages reach it (default: PM_PUBLIC_URL)"
                                             : "the URL of \(entry.key.replacingOccurrences(of: "_", with: "-")) as the dashboard's pages reach it (GET /ui/config.json; allowed by the pages' Content-Security-Policy)")
    }

    init(reader: ConfigReader, publicURL: String, githubLogin: Bool) throws {
        if let dir = reader.optionalString("PM_UI_DIR") {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: dir + "/index.html", isDirectory: &isFolder), !isFolder.boolValue else {
                throw ConfigError("PM_UI_DIR", "must name a folder holding index.html (got \(dir))")
            }
            folder = dir
        } else {
            guard let bundled = DashboardFiles.bundledFolder else {
                throw ConfigError("PM_UI_DIR", "is required: the dashboard's files are not beside this executable")
            }
            folder = bundled
        }
        services = try Self.publicURLs.map { entry in
            var url = reader.optionalString(entry.variable) ?? publicURL
            while url.hasSuffix("/") { url.removeLast() }
            guard let parts = URLComponents(string: url), ["http", "https"].contains(parts.scheme ?? ""), parts.host?.isEmpty == false,
                  parts.query == nil, parts.fragment == nil, parts.user == nil else {
                throw ConfigError(entry.variable, "must be an http:// or https:// URL (got \"\(url)\")")
            }
            return (entry.key, url)
        }
        self.githubLogin = githubLogin
    }

    /// `GET /ui/config.json`.
    var document: JSONValue {
        var services: [String: JSONValue] = [:]
        for (key, url) in self.services { services[key] = .string(url) }
        let logs = self.services.first { $0.key == "log_streamer" }!.url
        return .object(["services": .object(services), "log_stream_url": .string(Self.webSocketURL(logs) + "/"),
                        "github_login": .bool(githubLogin)])
    }

    /// `ws://` for `http://`, `wss://` for `https://`.
    static func webSocketURL(_ url: String) -> String {
        url.hasPrefix("https://") ? "wss://" + url.dropFirst(8) : "ws://" + url.dropFirst(7)
    }

    /// The pages may load only their own files and call only the fleet's services.
    var contentSecurityPolicy: String {
        var origins: [String] = []
        for (_, url) in services {
            for candidate in [Self.origin(url), Self.origin(Self.webSocketURL(url))] where !origins.contains(candidate) {
                origins.append(candidate)
            }
        }
        return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self' \(origins.joined(separator: " ")); frame-ancestors 'none'; base-uri 'none'; "
            + "form-action 'self'; object-src 'none'"
    }

    static func origin(_ url: String) -> String {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme, let host = parts.host else { return url }
        return "\(scheme)://\(host)\(parts.port.map { ":\($0)" } ?? "")"
    }
}
