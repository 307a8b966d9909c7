import FlukeRuntime
import FlukeTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
@testable import ProjectManager
import Testing

@Suite("project-manager: login lockout", .needsPostgresAndNATS)
struct LoginLockoutTests {
    @Test("200 parallel wrong passwords for one account make at most PM_LOGIN_MAX_FAILURES scrypt checks; the rest get 429")
    func parallelGuessing() async throws {
        try await PMHarness(["PM_LOGIN_MAX_FAILURES": "5", "PM_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000"]).run { c, _ in
            let owner = try await c.signup()
            let port = try #require(c.client.port)
            let before = try await c.metric("pm_password_checks_total") ?? 0
            let body = try JSONSerialization.data(withJSONObject: ["email": owner.email, "password": "wrong password"])
            // One connection per guess: the test client's own connection would serialise them.
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<200 {
                    group.addTask {
                        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(120))) {
                            let response = try await $0.execute(.init("/auth/login", method: .post, authority: "localhost",
                                                                      headers: [.contentType: "application/json"],
                                                                      body: ByteBuffer(bytes: body)))
                            return Int(response.status.code)
                        }
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 401 }.count <= 5, "\(statuses.filter { $0 == 401 }.count) answered 401")
            #expect(statuses.filter { $0 == 429 }.count >= 195)
            #expect(Set(statuses).isSubset(of: [401, 429]), "\(Set(statuses))")
            let checks = try #require(try await c.metric("pm_password_checks_total")) - before
            #expect(checks >= 1 && checks <= 5, "\(checks) scrypt checks")
            // Locked: the right password is refused too, and costs no scrypt.
            let locked = try await c.login(owner.email, owner.password)
            #expect(locked.status == 429 && Int(locked.headers[.retryAfter] ?? "") ?? 0 > 0)
            #expect(try await c.metric("pm_password_checks_total") == before + checks)
        }
    }

    @Test("X-Forwarded-For is read from the right through PM_TRUSTED_PROXIES: a client cannot dodge its address limit by prepending")
    func forwardedForFromTheRight() async throws {
        try await PMHarness(["PM_TRUSTED_PROXIES": "127.0.0.1/32, 10.0.0.0/8", "PM_LOGIN_MAX_FAILURES_PER_ADDRESS": "3",
                             "PM_LOGIN_MAX_FAILURES": "1000"]).run { c, _ in
            let owner = try await c.signup()
            // The client 198.51.100.7 reached us through a proxy at 10.1.2.3 and one on loopback;
            // the leftmost entries are whatever it chose to send.
            func via(_ client: String, spoofed: String) -> HTTPFields {
                [HTTPField.Name("X-Forwarded-For")!: "\(spoofed), \(client), 10.1.2.3"]
            }
            for i in 0..<3 {
                let r = try await c.login("guess\(i)@example.com", "nope nope", headers: via("198.51.100.7", spoofed: "203.0.113.\(i)"))
                #expect(r.status == 401)
            }
            #expect(try await c.login(owner.email, owner.password, headers: via("198.51.100.7", spoofed: "203.0.113.99")).status == 429)
            // Another client behind the same proxies is not locked out, nor is the proxy itself.
            #expect(try await c.login(owner.email, owner.password, headers: via("198.51.100.8", spoofed: "198.51.100.7")).status == 200)
            #expect(try await c.login(owner.email, owner.password).status == 200)
        }
    }

    @Test("the client address: the first untrusted hop from the right, only when the peer is a trusted proxy")
    func clientAddressRules() throws {
        let proxies = try TrustedProxies.parse("10.0.0.0/8, 192.168.1.1, fd00::/8", trustLoopback: false)
        #expect(proxies.clientAddress(peer: "203.0.113.5", forwardedFor: ["1.2.3.4"]) == "203.0.113.5")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: []) == "10.0.0.1")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["1.1.1.1, 8.8.8.8"]) == "8.8.8.8")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["1.1.1.1", "8.8.8.8, 192.168.1.1"]) == "8.8.8.8")
        #expect(proxies.clientAddress(peer: "::ffff:10.9.9.9", forwardedFor: ["2001:db8::1, fd12::3"]) == "2001:db8::1")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["10.2.2.2, 10.3.3.3"]) == "10.2.2.2")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["8.8.8.8, not-an-ip, 10.3.3.3"]) == "10.3.3.3")
        #expect(proxies.clientAddress(peer: nil, forwardedFor: ["8.8.8.8"]) == nil)
        // The old switch trusts loopback only.
        let legacy = try TrustedProxies.parse("", trustLoopback: true)
        #expect(legacy.clientAddress(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 7.7.7.7"]) == "7.7.7.7")
        #expect(legacy.clientAddress(peer: "10.0.0.1", forwardedFor: ["7.7.7.7"]) == "10.0.0.1")
        #expect(throws: ConfigError.self) { try TrustedProxies.parse("10.0.0.0/33", trustLoopback: false) }
        #expect(throws: ConfigError.self) { try TrustedProxies.parse("proxy.internal", trustLoopback: false) }
    }
}
