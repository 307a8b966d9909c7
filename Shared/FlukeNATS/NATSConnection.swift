import CNats
import FlukeModels
import Foundation
import Synchronization

/// The connection's state as the fleet reports it (`/ready`, `nats_connection_status`).
public enum NATSConnectionState: String, Sendable {
    case connected, reconnecting, closed
}

/// Receives libnats' connection callbacks (on libnats' own threads) through the `void *closure`.
final class NATSConnectionEvents: Sendable {
    let state = Mutex(NATSConnectionState.connected)
    /// Bumped on every reconnect: JetStream pull subscriptions compare it to know they must be
    /// re-created (libnats 3.4.1 does not restore them).
    let generation = Atomic<Int>(0)
    let onChange: @Sendable (NATSConnectionState) -> Void
    /// Set before a deliberate close: the disconnect that follows is not a reconnect.
    let closing = Atomic<Bool>(false)
    /// Why the connection is not up, as libnats last said (e.g. an authorization violation after
    /// a password rotation): what `/ready` shows while reconnecting.
    let lastError = Mutex<String?>(nil)

    let onError: @Sendable (String) -> Void

    init(onChange: @escaping @Sendable (NATSConnectionState) -> Void,
         onError: @escaping @Sendable (String) -> Void = { _ in }) {
        self.onChange = onChange
        self.onError = onError
    }

    func reportError(_ message: String) {
        lastError.withLock { $0 = message }
        onError(message)
    }

    func set(_ new: NATSConnectionState) {
        if new == .reconnecting && closing.load(ordering: .relaxed) { return }
        state.withLock { $0 = new }
        if new == .connected {
            generation.add(1, ordering: .relaxed)
            lastError.withLock { $0 = nil }
        }
        onChange(new)
    }
}

private func natsEventsBox(_ closure: UnsafeMutableRawPointer?) -> NATSConnectionEvents? {
    closure.map { Unmanaged<NATSConnectionEvents>.fromOpaque($0).takeUnretainedValue() }
}

/// One libnats connection: owns `natsOptions *`, `natsConnection *` and `jsCtx *`, and turns
/// their return codes into ``NATSError``. Calls may block: ``NATSClient`` runs them on its own
/// thread pool.
final class NATSConnection: @unchecked Sendable {
    let nc: OpaquePointer
    let js: OpaquePointer
    private let opts: OpaquePointer
    let events: NATSConnectionEvents
    private let eventsRetained: Unmanaged<NATSConnectionEvents>
    private let closedFlag = Mutex(false)

    init(url: String, name: String, credentials: NATSCredentials?, tls: NATSTLS?, inboxPrefix: String?,
         reconnectWait: Duration, reconnectJitter: Duration, sendAsap: Bool = false,
         events: NATSConnectionEvents) throws {
        var opts: OpaquePointer?
        try natsCheck(natsOptions_Create(&opts), "creating options")
        guard let opts else { throw NATSError(status: NATS_NO_MEMORY.rawValue, message: "natsOptions_Create") }
        self.opts = opts
        self.events = events
        self.eventsRetained = Unmanaged.passRetained(events)
        let box = eventsRetained.toOpaque()
        do {
            try natsCheck(Self.withServers(url) { natsOptions_SetServers(opts, $0, $1) }, "NATS_URL")
            try natsCheck(natsOptions_SetName(opts, name), "name")
            switch credentials {
            case .password(let user, let password)?:
                try natsCheck(natsOptions_SetUserInfo(opts, user, password), "NATS_USER")
            case .nkeySeedFile(let path)?:
                try natsCheck(natsOptions_SetNKeyFromSeed(opts, try Self.nkeyPublicKey(seedFile: path), path),
                              "NATS_NKEY_SEED_FILE")
            case nil:
                break
            }
            if let tls {
                try natsCheck(natsOptions_SetSecure(opts, true), "TLS")
                try natsCheck(natsOptions_LoadCATrustedCertificates(opts, tls.caFile), "NATS_TLS_CA")
            }
            // Replies come to an inbox only this user may subscribe to: with a shared `_INBOX.>`
            // any client could read other services' identity replies.
            if let inboxPrefix {
                try natsCheck(natsOptions_SetCustomInboxPrefix(opts, inboxPrefix), "inbox prefix")
            }
            // libnats' flusher waits 1 ms before writing what was published (it batches better);
            // sendAsap writes at once, which request/reply and JetStream acks need.
            try natsCheck(natsOptions_SetSendAsap(opts, sendAsap), "send asap")
            // Endless reconnect, jittered so a fleet does not stampede a restarted server.
            try natsCheck(natsOptions_SetMaxReconnect(opts, -1), "max reconnect")
            try natsCheck(natsOptions_SetReconnectWait(opts, reconnectWait.wholeMilliseconds), "reconnect wait")
            try natsCheck(natsOptions_SetReconnectJitter(opts, reconnectJitter.wholeMilliseconds,
                                                         reconnectJitter.wholeMilliseconds), "reconnect jitter")
            try natsCheck(natsOptions_SetReconnectBufSize(opts, 8 * 1024 * 1024), "reconnect buffer")
            try natsCheck(natsOptions_SetDisconnectedCB(opts, { nc, closure in
                guard let events = natsEventsBox(closure) else { return }
                var text: UnsafePointer<CChar>?
                if natsConnection_GetLastError(nc, &text) != NATS_OK, let text {
                    events.lastError.withLock { $0 = String(cString: text) }
                }
                events.set(.reconnecting)
            }, box), "disconnected callback")
            // Asynchronous errors (a permission violation, an authorization failure while
            // reconnecting) are otherwise silent: they are remembered for /ready and logged.
            try natsCheck(natsOptions_SetErrorHandler(opts, { nc, _, status, closure in
                guard let events = natsEventsBox(closure) else { return }
                var text: UnsafePointer<CChar>?
                _ = natsConnection_GetLastError(nc, &text)
                let message = text.map { String(cString: $0) } ?? String(cString: natsStatus_GetText(status))
                events.reportError(message)
            }, box), "error handler")
            try natsCheck(natsOptions_SetReconnectedCB(opts, { _, closure in
                natsEventsBox(closure)?.set(.connected)
            }, box), "reconnected callback")
            try natsCheck(natsOptions_SetClosedCB(opts, { _, closure in
                natsEventsBox(closure)?.set(.closed)
            }, box), "closed callback")
            var nc: OpaquePointer?
            try natsCheck(natsConnection_Connect(&nc, opts), "connecting to \(Self.redacted(url))")
            guard let nc else { throw NATSError(status: NATS_NO_MEMORY.rawValue, message: "connect") }
            self.nc = nc
            var js: OpaquePointer?
            var jsOpts = jsOptions()
            jsOptions_Init(&jsOpts)
            jsOpts.Wait = 5000
            let s = natsConnection_JetStream(&js, nc, &jsOpts)
            guard s == NATS_OK, let js else {
                natsConnection_Destroy(nc)
                try natsCheck(s, "JetStream context")
                throw NATSError(status: NATS_NO_MEMORY.rawValue, message: "JetStream context")
            }
            self.js = js
        } catch {
            natsOptions_Destroy(opts)
            eventsRetained.release()
            throw error
        }
    }

    /// Closes the connection and frees everything. Idempotent.
    func close() {
        let already = closedFlag.withLock { flag in
            defer { flag = true }
            return flag
        }
        guard !already else { return }
        events.closing.store(true, ordering: .relaxed)
        natsConnection_Close(nc)
        jsCtx_Destroy(js)
        natsConnection_Destroy(nc)
        natsOptions_Destroy(opts)
        // The closed callback may still be running on libnats' thread: the events box is released
        // by the owner (NATSClient) after nats_CloseAndWait, or leaked once per process otherwise.
    }

    var status: NATSConnectionState {
        switch natsConnection_Status(nc) {
        case NATS_CONN_STATUS_CONNECTED: return .connected
        case NATS_CONN_STATUS_CLOSED: return .closed
        default: return .reconnecting
        }
    }

    private static func serverList(_ url: String) -> [String] {
        url.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Lends `body` a `const char **` of the servers (libnats copies them).
    private static func withServers(_ url: String,
                                    _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>, Int32) -> natsStatus)
        -> natsStatus {
        let copies = serverList(url).map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var array = copies.map { UnsafePointer($0) }
        return array.withUnsafeMutableBufferPointer { body($0.baseAddress!, Int32($0.count)) }
    }

    /// The public key (`U…`) in an nkey seed file. libnats signs the server's nonce with the seed
    /// but must announce the public key, which it cannot derive: the file holds both lines, as
    /// `nk -gen user -pubout` prints them.
    static func nkeyPublicKey(seedFile path: String) throws -> String {
        let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
            .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.contains(where: { $0.hasPrefix("SU") }),
              let key = lines.first(where: { $0.hasPrefix("U") && $0.count == 56 }) else {
            throw NATSError(status: NATS_INVALID_ARG.rawValue,
                            message: "NATS_NKEY_SEED_FILE: \(path) must hold a user seed (SU…) and its public key (U…)")
        }
        return key
    }

    /// The URL without credentials, for error messages and logs.
    static func redacted(_ url: String) -> String {
        serverList(url).map { server -> String in
            guard let at = server.lastIndex(of: "@"), let scheme = server.range(of: "://") else { return server }
            return String(server[..<scheme.upperBound]) + "***@" + String(server[server.index(after: at)...])
        }.joined(separator: ",")
    }
}
