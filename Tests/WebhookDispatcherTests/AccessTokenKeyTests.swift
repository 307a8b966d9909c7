import ContextAPI
import FlukeCrypto
import FlukeModels
import FlukeRuntime
import FlukeTestSupport
import Foundation
import HummingbirdTesting
import Synchronization
import Testing
@testable import WebhookDispatcher

/// Only project-manager holds the private key: project-manager, context-api (keys fetched from
/// the JWKS URL) and webhook-dispatcher (keys configured) accept its access tokens and refuse
/// every token made any other way.
@Suite("access tokens: EdDSA signed by project-manager only", .needsPostgresAndNATS)
struct AccessTokenKeyTests {
    @Test("every service accepts project-manager's token and refuses tokens signed with anything else; JWKS is published")
    func onlyProjectManagerSigns() async throws {
        let h = try await WebhookHarness()
        try await h.withProjectManager { pm in
            let jwksURL = "http://127.0.0.1:\(try #require(pm.client.port))/.well-known/jwks.json"
            let jwks = try await pm.call(.get, "/.well-known/jwks.json")
            #expect(jwks.status == 200)
            #expect(jwks.headers[.contentType] == "application/jwk-set+json")
            let keys = try #require(jwks["keys"] as? [[String: Any]])
            #expect(keys.count == 1)
            #expect(keys.first?["kid"] as? String == "test-1" && keys.first?["crv"] as? String == "Ed25519")
            #expect(keys.first?["x"] as? String == Base64URL.encode(TestKeys.signingKeys.signer.publicKey.rawRepresentation))
            #expect(keys.first?["d"] == nil, "the private key must never be published")

            let world = try await WebhookHarness.world(pm)
            let real = world.ownerToken
            let claims = try JWTVerifier(keys: TestKeys.signingKeys.publicKeys).verify(real, as: AccessClaims.self)
            let forged = try TestKeys.forgedTokens(claims)

            // context-api has no key configured: it learns project-manager's from the JWKS URL.
            // (An empty FLUKE_JWT_PUBLIC_KEYS is an unset one.)
            try await h.withContextAPI(["FLUKE_JWT_PUBLIC_KEYS": "", "FLUKE_JWKS_URL": jwksURL]) { context in
                try await h.withDispatcher { hooks, _ in
                    let routes: [(String, JSONClient, String)] = [
                        ("project-manager", pm, "/api/v1/me"),
                        ("context-api", context, "/api/v1/mcp/plugins"),
                        ("webhook-dispatcher", hooks, "/api/v1/webhooks/subscriptions?project_id=\(world.projectID)"),
                    ]
                    for (service, client, path) in routes {
                        let accepted = try await client.call(.get, path, token: real)
                        #expect(accepted.status == 200, "\(service) refused project-manager's token: \(accepted.json)")
                        for (how, token) in forged {
                            let refused = try await client.call(.get, path, token: token)
                            #expect(refused.status == 401, "\(service) accepted a token signed by \(how)")
                        }
                    }
                }
            }
        }
    }

    @Test("configuration: services other than project-manager need FLUKE_JWT_PUBLIC_KEYS or FLUKE_JWKS_URL; no secret is accepted")
    func configuration() throws {
        let base = ["DATABASE_URL": "postgres://x@127.0.0.1/fluke", "FLUKE_ENCRYPTION_KEY": "k1:" + Data(count: 32).base64EncodedString()]
        #expect(throws: ConfigError.self) {
            try WebhookConfig(reader: ConfigReader(environment: base.merging(["FLUKE_JWT_SECRET": String(repeating: "s", count: 48)]) { _, b in b },
                                                   variables: WebhookConfig.variables))
        }
        #expect(throws: ConfigError.self) {
            try WebhookConfig(reader: ConfigReader(environment: base.merging(["FLUKE_JWT_PUBLIC_KEYS": "k1:not-base64"]) { _, b in b },
                                                   variables: WebhookConfig.variables))
        }
        let config = try WebhookConfig(reader: ConfigReader(environment: base.merging(["FLUKE_JWT_PUBLIC_KEYS": TestKeys.jwtPublicKeys]) { _, b in b },
                                                            variables: WebhookConfig.variables))
        #expect(config.auth.publicKeys == TestKeys.signingKeys.publicKeys)
    }
}
