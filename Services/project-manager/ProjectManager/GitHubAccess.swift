import FlukeCrypto
import FlukeModels
import Foundation
import Synchronization

/// The bearer token a GitHub connection acts with: a personal access token as it is, or for a
/// GitHub App installation a one-hour installation token, got with an RS256 app JWT
/// (`POST /app/installations/{id}/access_tokens`), kept, and renewed once less than
/// ``renewBefore`` of it is left.
struct GitHubAccess: Sendable {
    let connections: ConnectionStore
    let providers: ProviderClient
    let baseURL: String
    let installationTokens: InstallationTokenCache
    /// Refreshes `oauth` grants (login with GitHub).
    var login: GitHubLogin?
    /// An installation token with less than this left is renewed before use.
    static let renewBefore: TimeInterval = 300

    /// What a GitHub App connection keeps sealed.
    struct AppCredential: Codable, Sendable {
        var appID: String
        var installationID: Int
        var privateKey: String

        enum CodingKeys: String, CodingKey { case appID = "app_id", installationID = "installation_id", privateKey = "private_key" }
    }

    /// The connection (`id`, or the tenant's only GitHub one), its kind and a token to call GitHub with.
    func token(_ id: UUID?, tenant: UUID) async throws -> (id: UUID, kind: String, token: String) {
        let found = try await connections.credential("github", id, tenant: tenant)
        switch found.kind {
        case "app":
            let app = try JSONDecoder().decode(AppCredential.self, from: Data(found.secret.utf8))
            do throws(GitHubAPI.Failure) {
                return (found.id, found.kind, try await installationToken(found.id, app))
            } catch .unauthorized(let message) {
                try await connections.markInvalid(found.id, tenant: tenant, reason: "GitHub refused the app's JWT or installation: \(message)")
                throw PMError.conflict(field: "connection_id", "GitHub refused the app installation (\(message)); the connection is now marked invalid")
            } catch {
                throw PMError.upstream("GitHub could not give an installation token: \(error)")
            }
        case "oauth":
            guard let login else { throw PMError.unavailable("login with GitHub is off: the grant cannot be refreshed") }
            return (found.id, found.kind, try await login.refreshed(found.id, tenant: tenant))
        default:
            return (found.id, found.kind, found.secret)
        }
    }

    /// A kept installation token with enough time left, or a new one.
    func installationToken(_ connection: UUID, _ app: AppCredential) async throws(GitHubAPI.Failure) -> String {
        if let kept = installationTokens.get(connection), kept.expiresAt.timeIntervalSinceNow > Self.renewBefore { return kept.token }
        let answer = try await appCall(.POST, "/app/installations/\(app.installationID)/access_tokens", app)
        guard let token = answer["token"]?.stringValue, !token.isEmpty else {
            throw .failed("GitHub's installation token answer has no token")
        }
        let expiresAt = answer["expires_at"]?.stringValue.flatMap(RFC3339.parse) ?? Date().addingTimeInterval(3600)
        installationTokens.put(connection, InstallationTokenCache.Entry(token: token, expiresAt: expiresAt))
        return token
    }

    /// An app-authenticated call (`Authorization: Bearer <app JWT>`): the JWT is issued a minute
    /// in the past (clock drift) and lives 9 minutes (GitHub allows 10).
    func appCall(_ method: HTTPMethodName, _ path: String, _ app: AppCredential) async throws(GitHubAPI.Failure) -> JSONValue {
        struct Claims: Encodable { var iat: Int; var exp: Int; var iss: String }
        let now = Int(Date().timeIntervalSince1970)
        let jwt: String
        do {
            jwt = try RS256JWT.sign(Claims(iat: now - 60, exp: now + 540, iss: app.appID), key: try RSAPrivateKey(pem: app.privateKey))
        } catch {
            throw .failed("the app's private key cannot sign: \(error)")
        }
        let headers = [("Authorization", "Bearer \(jwt)"), ("Accept", "application/vnd.github+json"), ("X-GitHub-Api-Version", "2022-11-28")]
        let answer: ProviderClient.Answer
        do {
            answer = method == .POST ? try await providers.post(baseURL + path, headers: headers, json: .object([:]))
                                     : try await providers.get(baseURL + path, headers: headers)
        } catch {
            throw .failed("GitHub \(error.reason)")
        }
        let message = answer.json?["message"]?.stringValue ?? "no reason given"
        switch answer.status {
        case 200, 201: return answer.json ?? .null
        case 401, 403: throw .unauthorized(message)
        case 404: throw .notFound
        default: throw .failed("GitHub answered \(answer.status) to \(path): \(message)")
        }
    }

    enum HTTPMethodName { case GET, POST }
}

/// Installation tokens by connection, at most `limit` (the soonest to expire out first).
final class InstallationTokenCache: Sendable {
    struct Entry: Sendable {
        var token: String
        var expiresAt: Date
    }

    let limit: Int
    private let entries = Mutex<[UUID: Entry]>([:])

    init(limit: Int = 1024) { self.limit = limit }

    func get(_ connection: UUID) -> Entry? { entries.withLock { $0[connection] } }

    func put(_ connection: UUID, _ entry: Entry) {
        entries.withLock { entries in
            entries[connection] = entry
            if entries.count > limit, let soonest = entries.min(by: { $0.value.expiresAt < $1.value.expiresAt })?.key {
                entries[soonest] = nil
            }
        }
    }

    func remove(_ connection: UUID) { _ = entries.withLock { $0.removeValue(forKey: connection) } }
}
