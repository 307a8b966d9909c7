/// How a client proves who it is to nats-server: every fleet user has permissions for exactly
/// its own subjects, so a service without credentials cannot connect at all.
public enum NATSCredentials: Sendable, Equatable {
    /// `NATS_USER` / `NATS_PASSWORD`.
    case password(user: String, password: String)
    /// `NATS_NKEY_SEED_FILE`: a file holding a user nkey seed (`SU…`) and its public key (`U…`).
    case nkeySeedFile(String)

    /// The user name, when known: it also names the client's private inbox prefix.
    public var user: String? {
        if case .password(let user, _) = self { return user }
        return nil
    }
}

/// TLS towards nats-server: the server's certificate is verified against `caFile`.
public struct NATSTLS: Sendable, Equatable {
    public var caFile: String
    public init(caFile: String) { self.caFile = caFile }
}
