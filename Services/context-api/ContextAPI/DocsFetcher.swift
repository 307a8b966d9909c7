import AsyncHTTPClient
import FlukeRuntime
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// Checks that a documentation URL answers, calling it as the fleet calls anything on a user's
/// behalf: every URL, the first and each redirect's, goes through ``OutboundURLPolicy`` (its host
/// resolved and every address checked), and the request connects only to the address that was
/// checked (a DNS override pins the host; TLS still verifies the host name). At most
/// ``maxRedirects`` redirects are followed; an answer's body is read up to `maxBytes`; the whole
/// check, redirects and the GET fallback included, ends after `timeout`.
struct DocsFetcher: Sendable {
    static let maxRedirects = 3
    static let userAgent = "flukebase-fleet context-api provider audit"
    let policy: OutboundURLPolicy
    let timeout: Duration
    let maxBytes: Int
    /// For getaddrinfo, which blocks.
    let threadPool: NIOThreadPool

    /// `(true, "HEAD 200")`, or `(false, why)`.
    func check(_ url: String) async -> (ok: Bool, detail: String) {
        let seconds = String(format: "%g", timeout.secondsValue)
        return await Self.within(timeout, { await checkWithoutDeadline(url) }) ?? (false, "timed out after \(seconds) s")
    }

    private enum Answer: Sendable {
        case status(Int)
        case failed(String)
    }

    private func checkWithoutDeadline(_ url: String) async -> (ok: Bool, detail: String) {
        // HEAD first (no body); many servers answer HEAD badly, so anything but success tries GET.
        for method in [HTTPMethod.HEAD, .GET] {
            switch await follow(url, method: method) {
            case .status(let status) where (200..<400).contains(status): return (true, "\(method.rawValue) \(status)")
            case .status(let status): if method == .GET { return (false, "GET \(status)") }
            case .failed(let why): return (false, "\(method.rawValue) \(why)")
            }
        }
        return (false, "no answer")
    }

    private func follow(_ start: String, method: HTTPMethod) async -> Answer {
        var current = start
        for hop in 0...Self.maxRedirects {
            let host: String
            let address: String
            do {
                let checked = try await policy.checkedAddresses(current, threadPool: threadPool)
                (host, address) = (checked.host, checked.addresses[0])
            } catch let error as URLPolicyError {
                return .failed(hop == 0 ? "refused: the URL \(error.reason)" : "refused: the redirect to \(current) \(error.reason)")
            } catch {
                return .failed("refused: \(error)")
            }
            let (status, location): (Int, String?)
            do {
                (status, location) = try await fetch(current, method: method, host: host, address: address)
            } catch let error as FetchError {
                return .failed(error.reason)
            } catch {
                return .failed("failed: \(error)")
            }
            guard (300..<400).contains(status), let location else { return .status(status) }
            guard hop < Self.maxRedirects else { return .failed("more than \(Self.maxRedirects) redirects") }
            guard let next = URL(string: location, relativeTo: URL(string: current))?.absoluteURL.absoluteString else {
                return .failed("redirected to an invalid Location")
            }
            current = next
        }
        return .failed("more than \(Self.maxRedirects) redirects")
    }

    private struct FetchError: Error { var reason: String }

    /// One request to the checked address; the status and any `Location`.
    private func fetch(_ url: String, method: HTTPMethod, host: String, address: String) async throws -> (Int, String?) {
        let client = OutboundURLPolicy.pinnedClient(host: host, address: address, connectTimeout: .seconds(5),
                                                    readTimeout: timeout)
        do {
            let answer = try await fetch(url, method: method, with: client)
            try? await client.shutdown()
            return answer
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func fetch(_ url: String, method: HTTPMethod, with client: HTTPClient) async throws -> (Int, String?) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "user-agent", value: Self.userAgent)
        let response = try await client.execute(request, timeout: .nanoseconds(timeout.nanosecondsValue))
        if method != .HEAD {
            if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > maxBytes {
                throw FetchError(reason: "answered more than \(maxBytes) bytes")
            }
            var read = 0
            for try await chunk in response.body {
                read += chunk.readableBytes
                if read > maxBytes { throw FetchError(reason: "answered more than \(maxBytes) bytes") }
            }
        }
        return (Int(response.status.code), response.headers.first(name: "location"))
    }

    /// `body`'s value, or nil once `limit` has passed. Returns at the limit even if `body` is
    /// still waiting on something that ignores cancellation (getaddrinfo): it is cancelled and
    /// left to finish on its own.
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T) async -> T? {
        let resumed = Mutex(false)
        let tasks = Mutex<[Task<Void, Never>]>([])
        return await withCheckedContinuation { (continuation: CheckedContinuation<T?, Never>) in
            let finish: @Sendable (T?) -> Void = { value in
                guard resumed.withLock({ done in defer { done = true }; return !done }) else { return }
                for task in tasks.withLock({ $0 }) { task.cancel() }
                continuation.resume(returning: value)
            }
            let work = Task { finish(await body()) }
            let timer = Task {
                try? await Task.sleep(for: limit)
                if !Task.isCancelled { finish(nil) }
            }
            tasks.withLock { $0 = [work, timer] }
            // A finish that came before the tasks were stored had nothing to cancel.
            if resumed.withLock({ $0 }) { work.cancel(); timer.cancel() }
        }
    }
}
