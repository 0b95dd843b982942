import RumorWire

/// A stream message decoded, with the Serf state of a push-pull decoded too: what `Input.decodedStream` carries.
///
/// Decoding is pure and safe on any thread, so a driver can decode a large stream (a 100,000-node push-pull is
/// 10 MB of msgpack) off its event loop and hand the core the result; small streams go through `Input.stream`,
/// which decodes the same way inline.
public struct DecodedStream: Sendable {
    public let message: Result<MemberlistMessage, WireError>
    /// The Serf push-pull inside a push-pull's user state (nil when there is none).
    let serfState: Result<SerfPushPull, WireError>?

    public static func decode(_ payload: [UInt8]) -> DecodedStream {
        let message: Result<MemberlistMessage, WireError>
        do { message = .success(try MemberlistCodec.decodeStream(payload)) } catch {
            message = .failure(error as? WireError ?? WireError("\(error)"))
        }
        guard case .success(.pushPull(let pp)) = message, !pp.userState.isEmpty else {
            return DecodedStream(message: message, serfState: nil)
        }
        let serf: Result<SerfPushPull, WireError>
        switch Result(catching: { try SerfCodec.decode(pp.userState) }) {
        case .success(.pushPull(let state)): serf = .success(state)
        case .success: serf = .failure(WireError("serf state is not a push-pull"))
        case .failure(let error): serf = .failure(error as? WireError ?? WireError("\(error)"))
        }
        return DecodedStream(message: message, serfState: serf)
    }
}
