import Foundation

extension KubernetesExecutor {
    /// Where the API server is and how to authenticate to it.
    public struct Configuration: Sendable, Equatable {
        /// How requests prove who they are.
        public enum Token: Sendable, Equatable {
            /// No `Authorization` header (a local API server without authentication).
            case none
            /// A fixed bearer token.
            case value(String)
            /// A file holding the bearer token, read again for every request: the kubelet rotates
            /// projected service account tokens in place.
            case file(String)
        }

        /// The service account directory every pod gets.
        public static let serviceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount"

        /// `https://host:port` of the API server.
        public var apiURL: String
        public var token: Token
        /// A PEM file of the CA that signed the API server's certificate; the system's roots otherwise.
        public var caFile: String?
        /// The namespace every object of every app goes into.
        public var namespace: String
        /// How often rollouts, Jobs and canaries are polled. Defaults to 1 second.
        public var pollInterval: Duration

        public init(apiURL: String, token: Token = .none, caFile: String? = nil, namespace: String = "default",
                    pollInterval: Duration = .seconds(1)) {
            self.apiURL = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
            self.token = token
            self.caFile = caFile
            self.namespace = namespace
            self.pollInterval = pollInterval
        }

        /// Reads `KUBERNETES_API_URL`, `KUBERNETES_TOKEN_FILE`, `KUBERNETES_CA_FILE` and
        /// `KUBERNETES_NAMESPACE`, each defaulting to the in-cluster value: the API at
        /// `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`, and the service account's
        /// `token`, `ca.crt` and `namespace` files (namespace `default` when that file is missing).
        /// An empty `KUBERNETES_TOKEN_FILE` sends no token; the CA file is only used for `https`.
        public static func fromEnvironment(_ env: [String: String],
                                           serviceAccountDirectory: String = Configuration.serviceAccountDirectory)
            throws -> Configuration {
            let url: String
            if let explicit = env["KUBERNETES_API_URL"], !explicit.isEmpty {
                guard let parsed = URL(string: explicit), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
                      parsed.host != nil else {
                    throw ConfigurationError("KUBERNETES_API_URL must be an http or https URL")
                }
                url = explicit
            } else if let host = env["KUBERNETES_SERVICE_HOST"], !host.isEmpty {
                let port = env["KUBERNETES_SERVICE_PORT"].flatMap { $0.isEmpty ? nil : $0 } ?? "443"
                guard Int(port).map({ (1...65535).contains($0) }) == true else {
                    throw ConfigurationError("KUBERNETES_SERVICE_PORT must be a port number")
                }
                url = "https://\(host.contains(":") ? "[\(host)]" : host):\(port)"
            } else {
                throw ConfigurationError("set KUBERNETES_API_URL, or run in a pod (KUBERNETES_SERVICE_HOST)")
            }

            let tokenFile = env["KUBERNETES_TOKEN_FILE"] ?? "\(serviceAccountDirectory)/token"
            let defaultCA = "\(serviceAccountDirectory)/ca.crt"
            var caFile = env["KUBERNETES_CA_FILE"].flatMap { $0.isEmpty ? nil : $0 }
            if caFile == nil, FileManager.default.fileExists(atPath: defaultCA) { caFile = defaultCA }
            if !url.hasPrefix("https:") { caFile = nil }

            var namespace = env["KUBERNETES_NAMESPACE"].flatMap { $0.isEmpty ? nil : $0 }
            if namespace == nil, let data = FileManager.default.contents(atPath: "\(serviceAccountDirectory)/namespace") {
                let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                namespace = text.isEmpty ? nil : text
            }
            let resolved = namespace ?? "default"
            guard KubernetesExecutor.isDNSLabel(resolved) else {
                throw ConfigurationError("KUBERNETES_NAMESPACE must be a DNS label (lower-case letters, digits, '-')")
            }
            return Configuration(apiURL: url, token: tokenFile.isEmpty ? .none : .file(tokenFile), caFile: caFile,
                                 namespace: resolved)
        }
    }

    /// A setting that cannot work; the message names it, never its value.
    public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }

    /// RFC 1123 label: what namespaces and Service names must be.
    static func isDNSLabel(_ text: String) -> Bool {
        guard (1...63).contains(text.utf8.count), let first = text.utf8.first, let last = text.utf8.last else {
            return false
        }
        func alnum(_ c: UInt8) -> Bool { (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) }
        return alnum(first) && alnum(last) && text.utf8.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") }
    }
}
