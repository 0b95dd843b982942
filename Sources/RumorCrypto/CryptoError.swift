/// Every failure in RumorCrypto. The message is meant for operators and peers (key-query replies carry it), so it
/// never contains key material.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
