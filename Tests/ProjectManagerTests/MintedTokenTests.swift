import FlukeModels
import FlukeTestSupport
import Foundation
@testable import ProjectManager
import Testing

@Suite("project-manager: tokens minted by tokens", .needsPostgresAndNATS)
struct MintedTokenTests {
    @Test("a token minted by a token expires no later than it, with or without an expiry of its own")
    func childCannotOutliveParent() async throws {
        try await PMHarness().run { c, _ in
            let owner = try await c.signup()
            let parent = try await c.call(.post, "/api/v1/tokens", token: owner.accessToken,
                                          json: ["name": "parent", "scopes": ["context:read", "context:write"], "expires_in_days": 2])
            let parentToken = try #require(parent.string("token"))
            let parentExpiry = try #require(parent.string("expires_at").flatMap(RFC3339.parse))
            let longer = try await c.call(.post, "/api/v1/tokens", token: parentToken,
                                          json: ["name": "longer", "scopes": ["context:read"], "expires_in_days": 30])
            #expect(longer.status == 201)
            #expect(longer.string("parent_token_id") == parent.string("id"))
            let longerExpiry = try #require(longer.string("expires_at").flatMap(RFC3339.parse))
            #expect(longerExpiry <= parentExpiry)
            let forever = try await c.call(.post, "/api/v1/tokens", token: parentToken, json: ["name": "forever", "scopes": ["context:read"]])
            #expect(forever.status == 201)
            let foreverExpiry = try #require(forever.string("expires_at").flatMap(RFC3339.parse))
            #expect(foreverExpiry <= parentExpiry)
            // A shorter life than the parent's is kept as asked.
            let shorter = try await c.call(.post, "/api/v1/tokens", token: parentToken,
                                           json: ["name": "shorter", "scopes": ["context:read"], "expires_in_days": 1])
            let shorterExpiry = try #require(shorter.string("expires_at").flatMap(RFC3339.parse))
            #expect(shorterExpiry < parentExpiry.addingTimeInterval(-3600))
            // A session mints parentless tokens, with the life it asks for.
            let session = try await c.call(.post, "/api/v1/tokens", token: owner.accessToken,
                                           json: ["name": "s", "scopes": ["context:read"], "expires_in_days": 30])
            #expect(session["parent_token_id"] == nil)
            #expect(try #require(session.string("expires_at").flatMap(RFC3339.parse)) > parentExpiry)
        }
    }

    @Test("revoking a token revokes every token minted from it, at any depth, each with token.revoked")
    func revocationCascades() async throws {
        let h = try await PMHarness()
        try await h.run { c, _ in
            let owner = try await c.signup()
            let project = try await c.createProject(owner.accessToken)
            let parent = try await c.createToken(owner.accessToken, scopes: ["context:read", "context:write"], projectID: project)
            let parentToken = try #require(parent.string("token"))
            let child = try await c.createToken(parentToken, scopes: ["context:read", "context:write"])
            let childToken = try #require(child.string("token"))
            let grandchild = try await c.createToken(childToken, scopes: ["context:read"])
            let grandchildToken = try #require(grandchild.string("token"))
            let sibling = try #require(try await c.createToken(owner.accessToken, scopes: ["context:read"]).string("token"))
            #expect(grandchild.string("parent_token_id") == child.string("id"))
            for token in [parentToken, childToken, grandchildToken] {
                #expect(try await c.call(.get, "/api/v1/me", token: token).status == 200)
            }
            let events = try await EventCollector(natsURL: h.nats.url, filter: "fluke.events.token.revoked")
            #expect(try await c.call(.delete, "/api/v1/tokens/\(parent.string("id")!)", token: owner.accessToken).status == 204)
            for token in [parentToken, childToken, grandchildToken] {
                #expect(try await c.call(.get, "/api/v1/me", token: token).status == 401)
            }
            #expect(try await c.call(.get, "/api/v1/me", token: sibling).status == 200)
            let revoked = try await events.collect(count: 3, window: .seconds(15))
            let ids = Set(revoked.compactMap { event -> String? in
                if case .string(let id)? = event.data["token_id"] { return id }
                return nil
            })
            #expect(ids == Set([parent, child, grandchild].compactMap { $0.string("id") }))
            await events.close()
        }
    }
}
