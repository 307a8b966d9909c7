import FlukeRuntime
import Foundation

/// Which client a login comes from, for counting failures per address. `X-Forwarded-For` is
/// read from the right: each proxy appends the address it was called from, so only the entries
/// added by proxies we trust are true, and the first untrusted one from the right is the client.
/// Anything to its left was written by the client and may be made up.
struct TrustedProxies: Sendable {
    let networks: [IPNetwork]

    /// `peer` is the connection's remote address; `forwardedFor` every `X-Forwarded-For` header
    /// value in the order received.
    func clientAddress(peer: String?, forwardedFor: [String]) -> String? {
        guard let peer, networks.contains(address: peer) else { return peer }
        var client = peer
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        for hop in hops.reversed() {
            // Garbage ends the walk: the trusted proxy that passed it on is the best we know.
            guard IPNetwork.isAddress(hop) else { return client }
            client = hop
            if !networks.contains(address: hop) { return hop }
        }
        return client
    }

    /// `PM_TRUSTED_PROXIES`, plus loopback when the older `PM_TRUST_FORWARDED_FOR=true` is set (it
    /// used to trust the header from anyone; a proxy on the same host is what it was for).
    static func parse(_ raw: String, trustLoopback: Bool) throws -> TrustedProxies {
        var networks: [IPNetwork] = []
        for part in raw.split(separator: ",") where !part.trimmingCharacters(in: .whitespaces).isEmpty {
            guard let network = IPNetwork(String(part)) else {
                throw ConfigError("PM_TRUSTED_PROXIES", "\(part.trimmingCharacters(in: .whitespaces)) is not an IP address or CIDR network")
            }
            networks.append(network)
        }
        if trustLoopback { networks += [IPNetwork("127.0.0.0/8")!, IPNetwork("::1/128")!] }
        return TrustedProxies(networks: networks)
    }
}
