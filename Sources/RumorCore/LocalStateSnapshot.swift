import RumorWire

/// Our push-pull state, taken as values and encoded later: sorting, encoding and compressing 100,000 nodes takes a
/// few hundred milliseconds, which a driver can spend on another thread instead of its event loop. Encoding is
/// pure and deterministic (nodes and left members sorted by name).
public struct LocalStateSnapshot: Sendable, Hashable {
    let join: Bool
    let nodes: [PushNodeState]
    let serf: SerfPushPull
    let compress: Bool

    /// Worth encoding off the loop: more nodes than this.
    static let largeNodes = 1024
    var isLarge: Bool { nodes.count > Self.largeNodes }

    public func encode() -> [UInt8] {
        var serf = self.serf
        serf.leftMembers.sort()
        let userState = SerfCodec.encode(.pushPull(serf))
        let sorted = nodes.sorted { $0.name < $1.name }
        let message = MemberlistCodec.encode(.pushPull(PushPull(join: join, nodes: sorted, userState: userState)))
        return compress ? MemberlistCodec.compress(message) : message
    }
}
