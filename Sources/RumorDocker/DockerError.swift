/// A Docker failure, carrying the engine's own message verbatim where it gave one (`{"message": "..."}`).
public struct DockerError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// No socket, refused, or the connection broke: the engine is down or restarting.
        case engineUnreachable
        /// The engine answered with this HTTP status.
        case status(Int)
        /// The engine said something we could not read.
        case protocolError
        case timeout
        /// A pull stream reported an error after a 200.
        case pullFailed
    }

    public var kind: Kind
    public var message: String
    /// What we were doing ("create rumor-site-1"), in front of the message.
    public var operation: String?

    public init(_ kind: Kind, _ message: String, operation: String? = nil) {
        self.kind = kind
        self.message = message
        self.operation = operation
    }

    public var description: String { operation.map { "\($0): \(message)" } ?? message }

    public var isEngineDown: Bool { kind == .engineUnreachable || kind == .timeout }
    public var isNotFound: Bool { kind == .status(404) }

    /// The same error, saying what was being done.
    public func during(_ operation: String) -> DockerError {
        var copy = self
        copy.operation = self.operation.map { "\(operation): \($0)" } ?? operation
        return copy
    }
}
