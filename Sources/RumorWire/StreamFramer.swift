/// Frames the one message of a gossip TCP stream as its bytes arrive (docs/protocol.md#streams), so the reader
/// knows when to stop without waiting for EOF. Feed it the whole buffer received so far after every read: it
/// resumes where it stopped, so a stream costs time linear in its size however the peer splits it.
///
/// Sizes a peer declares are checked against memberlist's limits before the bytes arrive, and refused with
/// memberlist's words. Anything malformed counts as complete: the decoder then names what is wrong.
public struct StreamFramer: Sendable {
    public enum Status: Sendable, Equatable {
        case needMore
        case complete
        /// Refused before it was all read; the text is memberlist's, for the error reply.
        case refused(String)
    }

    /// memberlist's `maxPushStateBytes`: the most a stream may carry.
    public static let maxStateBytes = 20 << 20
    /// memberlist's `maxPushStateNodes`.
    public static let maxNodes = 1 << 20

    /// memberlist's text for a stream over ``maxStateBytes``.
    public static func tooLarge(_ size: Int) -> String { "remote node state is larger than limit (\(size))" }

    private enum Phase: Sendable {
        case start
        case header(MessagePackScanner, pushPull: Bool)
        case nodes(MessagePackScanner, userStateLength: Int)
        case value(MessagePackScanner)
        case until(Int)
    }

    private var phase = Phase.start

    public init() {}

    public mutating func scan(_ bytes: [UInt8]) -> Status {
        do {
            return try advance(bytes)
        } catch {
            return .complete
        }
    }

    private mutating func advance(_ bytes: [UInt8]) throws -> Status {
        while true {
            switch phase {
            case .start:
                guard let type = bytes.first else { return .needMore }
                switch MessageType(rawValue: type) {
                case .encrypt?:
                    guard bytes.count >= 5 else { return .needMore }
                    let length = Int(bytes[1]) << 24 | Int(bytes[2]) << 16 | Int(bytes[3]) << 8 | Int(bytes[4])
                    if length > Self.maxStateBytes { return .refused(Self.tooLarge(length)) }
                    phase = .until(5 + length)
                case .pushPull?: phase = .header(MessagePackScanner(offset: 1), pushPull: true)
                case .user?: phase = .header(MessagePackScanner(offset: 1), pushPull: false)
                case .compress?, .ping?, .ack?, .err?: phase = .value(MessagePackScanner(offset: 1))
                default: return .complete
                }
            case .header(var scanner, let pushPull):
                let done = try scanner.scan(bytes)
                phase = .header(scanner, pushPull: pushPull)
                guard done else { return .needMore }
                var r = MessagePackReader(Array(bytes[1..<scanner.offset]))
                let header = try MessagePackFields(r.read(), context: "stream header")
                if pushPull {
                    let nodes = try header.int("Nodes")
                    let userState = try header.int("UserStateLen")
                    guard nodes >= 0, userState >= 0 else { return .complete }
                    if nodes > Self.maxNodes { return .refused("number of nodes in header (\(nodes)) exceeds limit") }
                    if userState > Self.maxStateBytes { return .refused("user state length (\(userState)) exceeds limit") }
                    phase = .nodes(MessagePackScanner(offset: scanner.offset, count: UInt64(nodes)), userStateLength: Int(userState))
                } else {
                    let length = try header.int("UserMsgLen")
                    guard length >= 0 else { return .complete }
                    if length > Self.maxStateBytes { return .refused(Self.tooLarge(Int(length))) }
                    phase = .until(scanner.offset + Int(length))
                }
            case .nodes(var scanner, let userState):
                let done = try scanner.scan(bytes)
                phase = .nodes(scanner, userStateLength: userState)
                guard done else { return .needMore }
                phase = .until(scanner.offset + userState)
            case .value(var scanner):
                let done = try scanner.scan(bytes)
                phase = .value(scanner)
                return done ? .complete : .needMore
            case .until(let end):
                return bytes.count >= end ? .complete : .needMore
            }
        }
    }
}
