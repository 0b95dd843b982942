/// A configuration that cannot be used: a config file or flag with a bad value, or settings that contradict each
/// other. The message names the file and key (or the flag), the value and what was expected.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The configuration was fine but the agent could not start: binding the gossip port, the RPC listener, the
/// keyring, joining at start.
public struct StartupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An RPC command that cannot be carried out as asked (a bad filter, an oversized payload, an unknown key).
public struct CommandError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
