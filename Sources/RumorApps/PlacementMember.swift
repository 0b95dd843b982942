/// A member as one node's membership view holds it: what placement and rollout decisions are computed from.
public struct PlacementMember: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        case alive
        case failed
        /// Left on purpose (pass Serf's `leaving` as `left` too): its replicas move at once.
        case left
    }

    public var name: String
    public var status: Status
    public var tags: [String: String]
    /// When this node saw it enter `status`, on this node's clock. For the node itself: when it last joined or
    /// refuted a suspicion, so a node the others see flapping does not take itself for stable.
    public var since: Duration

    public init(name: String, status: Status, tags: [String: String] = [:], since: Duration = .zero) {
        self.name = name
        self.status = status
        self.tags = tags
        self.since = since
    }
}
