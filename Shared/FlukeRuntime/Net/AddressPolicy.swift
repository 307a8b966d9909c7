#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOPosix

/// What kind of network an IP address belongs to, for deciding whether the fleet may connect to
/// it on someone else's behalf (webhook callbacks, documentation audits): only `public` may be
/// reached unless the host is explicitly allowed.
public enum AddressKind: String, Sendable, Equatable {
    case `public`
    case loopback, privateNetwork = "private", linkLocal = "link-local", multicast, unspecified
    case sharedAddressSpace = "shared-address-space", reserved, documentation, broadcast
}

public enum AddressPolicy {
    /// The kind of a textual IPv4 or IPv6 address; `nil` when it is not one. IPv4 embedded in
    /// IPv6 (mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
    /// `2002::/16`, Teredo `2001::/32`) is judged as IPv4.
    public static func kind(of address: String) -> AddressKind? {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 {
            return kind(ipv4: withUnsafeBytes(of: v4.s_addr) { Array($0) })
        }
        var v6 = in6_addr()
        let text = address.hasPrefix("[") && address.hasSuffix("]") ? String(address.dropFirst().dropLast()) : address
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        return kind(ipv6: withUnsafeBytes(of: v6) { Array($0) })
    }

    static func kind(ipv4 b: [UInt8]) -> AddressKind {
        switch (b[0], b[1], b[2], b[3]) {
        case (0, _, _, _): return .unspecified
        case (10, _, _, _): return .privateNetwork
        case (100, 64...127, _, _): return .sharedAddressSpace
        case (127, _, _, _): return .loopback
        case (169, 254, _, _): return .linkLocal  // includes 169.254.169.254, the cloud metadata service
        case (172, 16...31, _, _): return .privateNetwork
        case (192, 0, 0, _): return .reserved
        case (192, 0, 2, _), (198, 51, 100, _), (203, 0, 113, _): return .documentation
        case (192, 88, 99, _): return .reserved  // deprecated 6to4 relay anycast (RFC 7526): relays into IPv6
        case (192, 168, _, _): return .privateNetwork
        case (198, 18...19, _, _): return .reserved
        case (255, 255, 255, 255): return .broadcast
        case (224...239, _, _, _): return .multicast
        case (240...255, _, _, _): return .reserved
        default: return .public
        }
    }

    static func kind(ipv6 b: [UInt8]) -> AddressKind {
        if b.allSatisfy({ $0 == 0 }) { return .unspecified }
        if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return .loopback }
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated)
        if b[0..<10].allSatisfy({ $0 == 0 }) && ((b[10] == 0xFF && b[11] == 0xFF) || (b[10] == 0 && b[11] == 0)) {
            return kind(ipv4: Array(b[12..<16]))
        }
        // ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765): a SIIT translator forwards it to the IPv4 address.
        if b[0..<8].allSatisfy({ $0 == 0 }) && b[8] == 0xFF && b[9] == 0xFF && b[10] == 0 && b[11] == 0 {
            return kind(ipv4: Array(b[12..<16]))
        }
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4..<12].allSatisfy({ $0 == 0 }) {
            return kind(ipv4: Array(b[12..<16]))  // NAT64
        }
        // 64:ff9b:1::/48 is NAT64 for local use (RFC 8215): never global, and where the IPv4 sits
        // depends on the operator's prefix length, so the whole block is private.
        if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xFF && b[3] == 0x9B && b[4] == 0 && b[5] == 1 { return .privateNetwork }
        if b[0] == 0x20 && b[1] == 0x02 { return kind(ipv4: Array(b[2..<6])) }  // 6to4
        // Teredo (2001::/32) tunnels to the client's IPv4, stored inverted in the last four bytes;
        // a public one is still not a webhook receiver's address (the protocol is deprecated).
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0 {
            let client = kind(ipv4: b[12..<16].map { ~$0 })
            return client == .public ? .reserved : client
        }
        if b[0] & 0xFE == 0xFC { return .privateNetwork }  // fc00::/7 unique local (fd00:ec2::254 is AWS's metadata)
        if b[0] == 0xFE && b[1] & 0xC0 == 0x80 { return .linkLocal }  // fe80::/10
        if b[0] == 0xFE && b[1] & 0xC0 == 0xC0 { return .privateNetwork }  // fec0::/10, deprecated site-local
        if b[0] == 0xFF { return .multicast }
        if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0D && b[3] == 0xB8 { return .documentation }  // 2001:db8::/32
        if b[0] == 0x01 && b[1..<8].allSatisfy({ $0 == 0 }) { return .reserved }  // 100::/64 discard
        return .public
    }

    /// Names that mean a cloud metadata service whatever they resolve to.
    static let metadataHosts: Set<String> = ["metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"]
}

/// Why an outbound URL is refused. Every case names the reason in words a user can act on.
public struct URLPolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
    public init(reason: String) { self.reason = reason }
}

/// The rule for URLs the fleet calls on a user's behalf: `https` (or `http` when allowed), no
/// credentials in the URL, and a host that is — and resolves only to — public addresses, unless
/// the host is explicitly allowed. Check again at connect time on the address actually used:
/// DNS can change between the two (see ``AddressPolicy/kind(of:)``).
public struct OutboundURLPolicy: Sendable {
    public var allowHTTP: Bool
    /// Host names (lower-case) or IP literals that may be reached whatever their addresses.
    public var allowedHosts: Set<String>

    /// Every address a host name resolves to (blocking). Tests stand in for DNS with it, to show
    /// that a connection goes where the check looked even when DNS answers differently later.
    public var resolver: @Sendable (String) throws -> [String]

    public init(allowHTTP: Bool = false, allowedHosts: Set<String> = [],
                resolver: @escaping @Sendable (String) throws -> [String] = OutboundURLPolicy.resolve) {
        self.allowHTTP = allowHTTP
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
        self.resolver = resolver
    }

    /// The URL's parts, when its form is acceptable (no resolution yet). `url` is the URL with
    /// its host lower-cased: connect with it, since a DNS pin keyed by the checked host does not
    /// apply to `Attacker.Example` (the HTTP client matches overrides case-sensitively).
    public func check(_ raw: String) throws -> (scheme: String, host: String, port: Int, url: String) {
        guard raw.count <= 2048, var url = URLComponents(string: raw), let scheme = url.scheme?.lowercased(),
              let host = url.host?.lowercased(), !host.isEmpty else {
            throw URLPolicyError(reason: "must be an absolute URL")
        }
        if url.host != host && !host.hasPrefix("[") { url.host = host }
        guard let normalised = url.string else { throw URLPolicyError(reason: "must be an absolute URL") }
        guard scheme == "https" || (scheme == "http" && allowHTTP) else {
            throw URLPolicyError(reason: allowHTTP ? "must use https or http" : "must use https")
        }
        guard url.user == nil && url.password == nil else { throw URLPolicyError(reason: "must not contain credentials") }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { throw URLPolicyError(reason: "has an invalid port") }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        if allowedHosts.contains(bare) { return (scheme, bare, port, normalised) }
        if AddressPolicy.metadataHosts.contains(bare) { throw URLPolicyError(reason: "points at a cloud metadata service") }
        if let kind = AddressPolicy.kind(of: bare), kind != .public {
            throw URLPolicyError(reason: "points at a \(kind.rawValue) address")
        }
        return (scheme, bare, port, normalised)
    }

    /// Checks the URL's form, then every address its host resolves to (blocking DNS runs on
    /// `threadPool`). Returns the addresses, all public (or the host allowed).
    public func validate(_ raw: String, threadPool: NIOThreadPool) async throws -> [String] {
        let (_, host, _, _) = try check(raw)
        let addresses = try await threadPool.runIfActive { [resolver] in try resolver(host) }
        guard !addresses.isEmpty else { throw URLPolicyError(reason: "has a host that does not resolve") }
        if allowedHosts.contains(host) { return addresses }
        for address in addresses {
            let kind = AddressPolicy.kind(of: address) ?? .reserved
            guard kind == .public else {
                throw URLPolicyError(reason: "resolves to a \(kind.rawValue) address (\(address))")
            }
        }
        return addresses
    }

    /// Every address `host` resolves to (getaddrinfo; blocking).
    public static func resolve(_ host: String) throws -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else {
            throw URLPolicyError(reason: "has a host that does not resolve")
        }
        defer { freeaddrinfo(first) }
        var out: [String] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            if let sa = entry.pointee.ai_addr {
                if entry.pointee.ai_family == AF_INET {
                    var sin = UnsafeRawPointer(sa).load(as: sockaddr_in.self).sin_addr
                    inet_ntop(AF_INET, &sin, &buffer, socklen_t(buffer.count))
                } else if entry.pointee.ai_family == AF_INET6 {
                    var sin6 = UnsafeRawPointer(sa).load(as: sockaddr_in6.self).sin6_addr
                    inet_ntop(AF_INET6, &sin6, &buffer, socklen_t(buffer.count))
                }
            }
            let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if !text.isEmpty && !out.contains(text) { out.append(text) }
            cursor = entry.pointee.ai_next
        }
        return out
    }
}
