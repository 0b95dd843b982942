/// Protocol tuning for the membership (SWIM/Lifeguard) layer, with memberlist's presets.
///
/// Defaults equal memberlist's `DefaultLANConfig` so that a mixed cluster with serf agents behaves as one: the
/// same probe cadence, suspicion timeouts and retransmit counts on both sides (docs/membership.md#profiles).
public struct MemberlistSettings: Sendable, Hashable {
    /// How often one member is probed. Scaled by the local health multiplier (Lifeguard §IV-A).
    public var probeInterval: Duration = .seconds(1)
    /// How long to wait for a direct ack before asking others to probe indirectly. Should exceed the RTT p99.
    public var probeTimeout: Duration = .milliseconds(500)
    /// Peers asked to probe a target that missed its direct ack (SWIM's k).
    public var indirectChecks = 3
    /// Piggybacked updates are retransmitted `retransmitMult * ceil(log10(n+1))` times.
    public var retransmitMult = 4
    /// Suspicion lasts at least `suspicionMult * max(1, log10(n)) * probeInterval`.
    public var suspicionMult = 4
    /// The upper bound on a suspicion timeout is this many times the lower bound (Lifeguard dynamic suspicion).
    public var suspicionMaxTimeoutMult = 6
    /// Full state exchange with one random peer; scaled up for clusters over 32 nodes.
    public var pushPullInterval: Duration = .seconds(30)
    /// The local health score saturates at `awarenessMaxMultiplier - 1`.
    public var awarenessMaxMultiplier = 8
    /// Peers that receive piggybacked gossip each gossip interval.
    public var gossipNodes = 3
    public var gossipInterval: Duration = .milliseconds(200)
    /// Dead nodes keep receiving gossip this long, so they can learn they were declared dead and refute.
    public var gossipToTheDeadTime: Duration = .seconds(30)
    /// Deadline for one TCP exchange (push-pull, fallback ping).
    public var tcpTimeout: Duration = .seconds(10)
    /// UDP payload budget, as memberlist's `UDPBufferSize`.
    public var packetBudget = 1400
    /// Bytes the transport adds per packet (29 for AES-GCM version 1), subtracted from the gossip budget.
    public var packetOverhead = 0
    /// Compress TCP streams as serf does by default; receivers accept either.
    public var enableCompression = true
    /// News (an event, a query, an intent, alive/suspect/dead) goes to `gossipNodes` peers when it is created or
    /// first heard, not at the next gossip tick; memberlist waits for the tick. Same messages, transmit limit and
    /// packet budget, so serf reads it all and bytes per message stay (`Instance.gossipEagerly`).
    public var eagerGossip = true
    /// One of each gossip round's `gossipNodes` targets is the next alive node in name order, the rest random: a
    /// node whose predecessor has a message gets it, so news passes around the ring even where every random pick
    /// missed (at n=50 about 1 message in 70 misses some node). Same packet count and bytes
    /// (`Instance.ringSuccessor`).
    public var ringGossip = true

    public init() {}

    /// memberlist `DefaultLANConfig`: tuned for a LAN where RTTs are well under 100 ms.
    public static let lan = MemberlistSettings()

    /// memberlist `DefaultWANConfig`: slower probes and longer timeouts for high-latency links.
    public static var wan: MemberlistSettings {
        var s = MemberlistSettings()
        s.tcpTimeout = .seconds(30)
        s.suspicionMult = 6
        s.pushPullInterval = .seconds(60)
        s.probeTimeout = .seconds(3)
        s.probeInterval = .seconds(5)
        s.gossipNodes = 4
        s.gossipInterval = .milliseconds(500)
        s.gossipToTheDeadTime = .seconds(60)
        return s
    }

    /// memberlist `DefaultLocalConfig`: loopback or a single host, where everything is fast.
    public static var local: MemberlistSettings {
        var s = MemberlistSettings()
        s.tcpTimeout = .seconds(1)
        s.indirectChecks = 1
        s.retransmitMult = 2
        s.suspicionMult = 3
        s.pushPullInterval = .seconds(15)
        s.probeTimeout = .milliseconds(200)
        s.gossipInterval = .milliseconds(100)
        s.gossipToTheDeadTime = .seconds(15)
        return s
    }

    public static func profile(named name: String) -> MemberlistSettings? {
        switch name {
        case "lan": return .lan
        case "wan": return .wan
        case "local": return .local
        default: return nil
        }
    }
}

/// Tuning for the Serf layer (intents, events, reaping), with serf's defaults (docs/membership.md#serf-defaults).
public struct SerfSettings: Sendable, Hashable {
    /// How long a leave waits for its intent to go out before continuing anyway.
    public var broadcastTimeout: Duration = .seconds(5)
    /// After the final leave broadcast, stay up this long to answer probes while the news spreads.
    public var leavePropagateDelay: Duration = .seconds(1)
    public var reapInterval: Duration = .seconds(15)
    /// Failed members are erased (member-reap) after this long.
    public var reconnectTimeout: Duration = .seconds(24 * 3600)
    /// Left members are erased after this long.
    public var tombstoneTimeout: Duration = .seconds(24 * 3600)
    /// Intents about members not yet seen are remembered this long.
    public var recentIntentTimeout: Duration = .seconds(300)
    public var reconnectInterval: Duration = .seconds(30)
    /// Rumor: how often the reconnect loop pings a failed member (UDP, named) instead of serf's TCP push-pull every
    /// `reconnectInterval`; a push-pull follows only an ack (docs/membership.md#reap-and-reconnect).
    public var reconnectPingInterval: Duration = .seconds(5)
    /// Size of the user-event and query dedup rings.
    public var eventBuffer = 512
    public var queryBuffer = 512
    /// Drop the oldest queued broadcasts beyond this depth rather than grow without bound.
    public var maxQueueDepth = 4096
    public var userEventSizeLimit = 512
    public var querySizeLimit = 1024
    public var queryResponseSizeLimit = 1024
    public var queryTimeoutMult = 16
    /// Ignore user events older than our join (agent default; `--replay` turns it off).
    public var ignoreEventsOnJoin = true
    /// Serf's `disable_coordinates`: send no coordinate in acks and keep none.
    public var disableCoordinates = false

    public init() {}
}
