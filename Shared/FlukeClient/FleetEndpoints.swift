import Foundation

/// The fleet's services, each owning its part of the API.
public enum FleetService: String, CaseIterable, Sendable {
    case projectManager = "project-manager"
    case contextAPI = "context-api"
    case webhookDispatcher = "webhook-dispatcher"
    case deployTracker = "deploy-tracker"
    case logStreamer = "log-streamer"
    case federation

    public var name: String { rawValue }

    /// `FLUKE_<SERVICE>_URL`, as `make run` writes them to `.run/fleet.env`.
    public var urlVariable: String { "FLUKE_" + rawValue.uppercased().replacingOccurrences(of: "-", with: "_") + "_URL" }

    /// Where `make run` serves it.
    public var localPort: Int {
        switch self {
        case .projectManager: 8000
        case .federation: 8001
        case .contextAPI: 8080
        case .webhookDispatcher: 8082
        case .logStreamer: 8767
        case .deployTracker: 3000
        }
    }
}

/// Where the fleet's services are and who is calling them.
///
/// Read by ``load(environment:fleetEnv:configFile:)`` from, in order of precedence: the
/// process environment (`FLUKE_<SERVICE>_URL`, `FLUKE_TOKEN`), `.run/fleet.env` (written by
/// `make run`: the URLs and `FLUKE_ADMIN_TOKEN`), then the stored login under
/// `$XDG_CONFIG_HOME/fluke/`; a service named nowhere is looked for where `make run` serves it.
public struct FleetEndpoints: Sendable, Equatable {
    public var urls: [FleetService: URL]
    /// The bearer token for every service (an `fbk_` API token or an access token).
    public var token: String?
    /// federation's `X-API-Key` (`FEDERATION_API_KEY`), for its catalog.
    public var federationAPIKey: String?

    public init(urls: [FleetService: URL] = [:], token: String? = nil, federationAPIKey: String? = nil) {
        self.urls = urls
        self.token = token
        self.federationAPIKey = federationAPIKey
    }

    /// Every service on 127.0.0.1 at the ports `make run` uses.
    public static var local: FleetEndpoints {
        FleetEndpoints(urls: Dictionary(uniqueKeysWithValues: FleetService.allCases.map {
            ($0, URL(string: "http://127.0.0.1:\($0.localPort)")!)
        }))
    }

    public func base(_ service: FleetService) -> URL? { urls[service] }

    func token(for service: FleetService) -> String? { token }

    /// `path` (with `query`, absent values left out) on `service`.
    func url(_ service: FleetService, path: String, query: [(String, String?)]) throws -> String {
        guard let base = urls[service] else {
            throw FlukeClientError(service: service, status: 0, title: "Not configured",
                                   detail: "no URL for \(service.name): set \(service.urlVariable)")
        }
        let trimmed = base.absoluteString.hasSuffix("/") ? String(base.absoluteString.dropLast()) : base.absoluteString
        return trimmed + Self.target(path: path, query: query)
    }

    /// `path?query` (absent values left out), percent-encoded.
    static func target(path: String, query: [(String, String?)]) -> String {
        var components = URLComponents()
        components.percentEncodedPath = path
        let items = query.compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        if !items.isEmpty { components.queryItems = items }
        // `+` is a space to many servers' form decoding: always percent-encode it.
        components.percentEncodedQuery = components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B")
        return components.string ?? path
    }

    /// The fleet as this process is configured to see it. Later sources win: `make run`'s ports,
    /// the stored login's project-manager URL, the config file (`FLUKE_CONFIG`, else
    /// `$XDG_CONFIG_HOME/fluke/config.env`), the `fleet.env`, then the environment.
    ///
    /// - Parameters:
    ///   - environment: the process environment (`FLUKE_*_URL`, `FLUKE_TOKEN`, `FEDERATION_API_KEY`).
    ///   - fleetEnv: a `fleet.env` file to read; nil looks for `.run/fleet.env` in the working
    ///     directory and its parents (so `fluke` works anywhere inside the repository after `make run`).
    ///   - storedLogin: the token `fluke login` stored, used when nothing else names one.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment,
                            fleetEnv: String? = nil, storedLogin: StoredLogin? = nil) throws -> FleetEndpoints {
        var settings: [String: String] = [:]
        // The config file: KEY=value lines as in fleet.env, for a fleet elsewhere than `make run`'s.
        let config = environment["FLUKE_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let configFile = config ?? StoredLogin.configDirectory(environment) + "/config.env"
        if config != nil || FileManager.default.fileExists(atPath: configFile) {
            settings = try readEnvFile(configFile, what: "config file")
        }
        if let file = fleetEnv ?? findFleetEnv(from: FileManager.default.currentDirectoryPath) {
            settings.merge(try readEnvFile(file, what: "fleet.env")) { _, fleet in fleet }
        }
        for (key, value) in environment where key.hasPrefix("FLUKE_") || key == "FEDERATION_API_KEY" {
            settings[key] = value
        }
        var endpoints = FleetEndpoints.local
        if let storedLogin { endpoints.urls.merge(storedLogin.urls) { _, stored in stored } }
        for service in FleetService.allCases {
            guard let raw = settings[service.urlVariable], !raw.isEmpty else { continue }
            guard let url = URL(string: raw), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil else {
                throw FlukeClientError(service: nil, status: 0, title: "Bad URL", detail: "\(service.urlVariable) is not an http(s) URL: \(raw)",
                                       field: service.urlVariable)
            }
            endpoints.urls[service] = url
        }
        endpoints.token = [settings["FLUKE_TOKEN"], storedLogin?.token, settings["FLUKE_ADMIN_TOKEN"]]
            .compactMap { $0 }.first { !$0.isEmpty }
        endpoints.federationAPIKey = settings["FEDERATION_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        return endpoints
    }

    static func readEnvFile(_ file: String, what: String) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw FlukeClientError(service: nil, status: 0, title: "Unreadable \(what)", detail: "cannot read the \(what) \(file)")
        }
        return parseEnvFile(text)
    }

    /// `.run/fleet.env` in `directory` or the nearest parent that has one.
    static func findFleetEnv(from directory: String) -> String? {
        var url = URL(fileURLWithPath: directory, isDirectory: true)
        for _ in 0..<32 {
            let candidate = url.appendingPathComponent(".run/fleet.env").path
            if FileManager.default.isReadableFile(atPath: candidate) { return candidate }
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { break }
            url = parent
        }
        return nil
    }

    /// `KEY=value` lines (optionally `export KEY=value`, values optionally quoted); `#` comments.
    static func parseEnvFile(_ text: String) -> [String: String] {
        var settings: [String: String] = [:]
        for rawLine in text.split(whereSeparator: \.isNewline) {
            var line = rawLine.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)) }
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            var value = String(line[line.index(after: equals)...])
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            settings[key] = value
        }
        return settings
    }
}
