import FlukeRuntime
import Foundation
import NIOPosix
import Testing

@Suite("outbound URL policy (SSRF)")
struct OutboundURLPolicyTests {
    @Test("addresses are classified, IPv4 inside IPv6 included")
    func kinds() {
        let cases: [(String, AddressKind)] = [
            ("127.0.0.1", .loopback), ("127.255.0.9", .loopback), ("::1", .loopback), ("10.1.2.3", .privateNetwork),
            ("172.16.0.1", .privateNetwork), ("172.31.255.255", .privateNetwork), ("172.32.0.1", .public),
            ("192.168.1.1", .privateNetwork), ("169.254.169.254", .linkLocal), ("fe80::1", .linkLocal),
            ("fc00::1", .privateNetwork), ("fd00:ec2::254", .privateNetwork), ("224.0.0.1", .multicast), ("ff02::1", .multicast),
            ("0.0.0.0", .unspecified), ("::", .unspecified), ("100.64.0.1", .sharedAddressSpace), ("255.255.255.255", .broadcast),
            ("::ffff:127.0.0.1", .loopback), ("::ffff:10.0.0.1", .privateNetwork), ("64:ff9b::a9fe:a9fe", .linkLocal),
            ("2002:7f00:1::", .loopback), ("2001:db8::1", .documentation), ("8.8.8.8", .public),
            ("2606:4700:4700::1111", .public), ("[::1]", .loopback),
            // IPv4-translated (SIIT): the IPv4 decides.
            ("::ffff:0:127.0.0.1", .loopback), ("::ffff:0:a9fe:a9fe", .linkLocal), ("::ffff:0:10.1.1.1", .privateNetwork),
            // NAT64 for local use: private whatever it embeds.
            ("64:ff9b:1::7f00:1", .privateNetwork), ("64:ff9b:1::808:808", .privateNetwork), ("64:ff9b:1:ab::1", .privateNetwork),
            // Teredo: the client IPv4 (inverted) decides when it is not public; otherwise reserved.
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", .loopback), ("2001::f5ff:fffe", .privateNetwork),
            ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", .reserved),
            // The 6to4 relay anycast block.
            ("192.88.99.1", .reserved), ("192.88.98.1", .public), ("2001:4860::8888", .public),
        ]
        for (address, expected) in cases {
            #expect(AddressPolicy.kind(of: address) == expected, "\(address)")
        }
        #expect(AddressPolicy.kind(of: "example.com") == nil)
    }

    @Test("URLs are refused for their scheme, credentials, literal or resolved addresses, unless the host is allowed")
    func urls() async throws {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        let strict = OutboundURLPolicy()
        let refused = [
            "http://8.8.8.8/hook", "ftp://8.8.8.8/", "https://user:pw@8.8.8.8/", "https://127.0.0.1/", "https://[::1]/",
            "https://169.254.169.254/latest/meta-data", "https://metadata.google.internal/", "https://10.0.0.5:8443/x",
            "https://[::ffff:127.0.0.1]/", "https://localhost/", "https://2130706433/", "https://0x7f.0.0.1/",
            "https://0177.0.0.1/", "not a url",
        ]
        for url in refused {
            await #expect(throws: URLPolicyError.self, "\(url)") { try await strict.validate(url, threadPool: pool) }
        }
        let relaxed = OutboundURLPolicy(allowHTTP: true, allowedHosts: ["127.0.0.1", "localhost"])
        #expect(try await relaxed.validate("http://127.0.0.1:9000/hook", threadPool: pool) == ["127.0.0.1"])
        #expect(try await relaxed.validate("http://localhost:9000/hook", threadPool: pool).contains("127.0.0.1"))
        await #expect(throws: URLPolicyError.self) { try await relaxed.validate("http://10.0.0.1/", threadPool: pool) }
        // A public literal passes without DNS.
        #expect(try strict.check("https://8.8.8.8/hook").host == "8.8.8.8")
        // The host is lower-cased in the URL to connect with, so a DNS pin keyed by it applies.
        let mixed = try strict.check("https://Attacker.Example:8443/Path/X?q=Y")
        #expect(mixed.host == "attacker.example")
        #expect(mixed.url == "https://attacker.example:8443/Path/X?q=Y")
        await #expect(throws: URLPolicyError.self) {
            try await OutboundURLPolicy(resolver: { _ in ["127.0.0.1"] }).validate("https://Attacker.Example/", threadPool: pool)
        }
        try await pool.shutdownGracefully()
    }
}
