import AsyncHTTPClient
import FlukeModels
import NIOCore
import NIOPosix

extension OutboundURLPolicy {
    /// The host of `url` and the addresses it resolves to, all accepted by the policy, IPv4
    /// first (loopback-only hosts and most servers answer there); throws ``URLPolicyError``.
    public func checkedAddresses(_ url: String, threadPool: NIOThreadPool) async throws
        -> (host: String, addresses: [String]) {
        let host = try check(url).host
        let addresses = try await validate(url, threadPool: threadPool)
        return (host, addresses.filter { !$0.contains(":") } + addresses.filter { $0.contains(":") })
    }

    /// A client for calls made on a user's behalf to `host`, connecting only to `address` (one
    /// the policy checked, not whatever DNS says a moment later): a DNS override pins the host,
    /// while TLS still verifies the certificate for the host name. Redirects are not followed
    /// (each target must be checked first) and bodies are not decompressed. The caller shuts it down.
    public static func pinnedClient(host: String, address: String, connectTimeout: Duration, readTimeout: Duration,
                                    connectionsPerHost: Int? = nil) -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .nanoseconds(connectTimeout.nanosecondsValue),
                           read: .nanoseconds(readTimeout.nanosecondsValue)),
            decompression: .disabled)
        if let connectionsPerHost {
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = connectionsPerHost
        }
        if host != address { configuration.dnsOverride = [host: address] }
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}
