import RumorSupport
import Logging
import RumorCore
import RumorWire

/// Everything the agent is told at start-up, under Serf's names so a Serf user's config carries over.
///
/// Built in three layers: defaults, then config files and directories (in order), then command-line flags; later
/// layers override earlier ones, and list-valued keys (`start_join`, `retry_join`, `event_handlers`) add up, as in
/// Serf. ``validate()`` checks the result once and names the first problem it finds.
public struct AgentConfiguration: Sendable {
    public var nodeName: String?
    public var bind = "0.0.0.0:7946"
    public var advertise: String?
    public var join: [String] = []
    public var retryJoin: [String] = []
    public var retryInterval: Duration = .seconds(30)
    /// 0: retry forever.
    public var retryMax = 0
    public var replayOnJoin = false
    public var tags: [String: String] = [:]
    public var tagsFile: String?
    public var profile = "lan"
    public var protocolVersion = 5
    public var rpcAddr = "127.0.0.1:7373"
    public var rpcAuth: String?
    public var logLevel = "info"
    public var eventHandlers: [String] = []
    public var snapshotPath: String?
    public var rejoinAfterLeave = false
    /// Serf's `disable_coordinates`: no Vivaldi coordinate in acks, `serf rtt` has nothing to report.
    public var disableCoordinates = false
    /// Serf leaves gracefully on SIGINT only; Rumor also does on SIGTERM (what `docker stop` sends), so scaling
    /// a service down reads as *left* everywhere rather than *failed*. Set false for Serf's behaviour.
    public var leaveOnTerminate = true
    public var skipLeaveOnInterrupt = false
    public var encryptKey: String?
    public var keyringFile: String?
    /// Accept plaintext gossip while encryption is on, for migrating a running cluster to encryption (Consul's
    /// `encrypt_verify_incoming: false`). Outgoing traffic is still encrypted.
    public var encryptAllowPlaintext = false
    public var enableCompression = true
    public var broadcastTimeout: Duration = .seconds(5)
    public var reconnectInterval: Duration?
    public var reconnectTimeout: Duration?
    public var tombstoneTimeout: Duration?
    public var userEventSizeLimit = 512
    public var querySizeLimit = 1024
    public var queryResponseSizeLimit = 1024
    /// Rumor's own additions (built-in actions) live under their own key; kept raw for the actions to parse.
    public var actions: JSON?

    public init() {}

    public struct Error: Swift.Error, CustomStringConvertible, Sendable {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// Serf's config keys that Rumor accepts but ignores (with the reason), so Serf configs load unchanged.
    static let ignoredKeys: Set<String> = [
        "discover", "interface", "enable_syslog", "syslog_facility", "statsite_addr",
        "statsd_addr", "disable_name_resolution", "mdns",
    ]

    /// Applies one config file's JSON on top of this configuration.
    public mutating func merge(json: JSON, source: String) throws {
        guard case .object(let pairs) = json else { throw Error("\(source): expected a JSON object at the top level") }
        for (key, value) in pairs {
            let at = "\(source): \(key)"
            switch key {
            case "node_name": nodeName = try value.string(at)
            case "role": tags["role"] = try value.string(at)
            case "tags": tags.merge(try value.stringMap(at)) { $1 }
            case "tags_file": tagsFile = try value.string(at)
            case "bind": bind = try value.string(at)
            case "advertise": advertise = try value.string(at)
            case "encrypt_key": encryptKey = try value.string(at)
            case "keyring_file": keyringFile = try value.string(at)
            case "encrypt_verify_incoming": encryptAllowPlaintext = !(try value.bool(at))
            case "log_level": logLevel = try value.string(at)
            case "rpc_addr": rpcAddr = try value.string(at)
            case "rpc_auth": rpcAuth = try value.string(at)
            case "protocol": protocolVersion = try value.int(at)
            case "replay_on_join": replayOnJoin = try value.bool(at)
            case "query_response_size_limit": queryResponseSizeLimit = try value.int(at)
            case "query_size_limit": querySizeLimit = try value.int(at)
            case "user_event_size_limit": userEventSizeLimit = try value.int(at)
            case "start_join": join += try value.stringArray(at)
            case "event_handlers": eventHandlers += try value.stringArray(at)
            case "profile": profile = try value.string(at)
            case "snapshot_path": snapshotPath = try value.string(at)
            case "leave_on_terminate": leaveOnTerminate = try value.bool(at)
            case "skip_leave_on_interrupt": skipLeaveOnInterrupt = try value.bool(at)
            case "reconnect_interval": reconnectInterval = try value.duration(at)
            case "reconnect_timeout": reconnectTimeout = try value.duration(at)
            case "tombstone_timeout": tombstoneTimeout = try value.duration(at)
            case "retry_join": retryJoin += try value.stringArray(at)
            case "retry_max_attempts": retryMax = try value.int(at)
            case "retry_interval": retryInterval = try value.duration(at)
            case "rejoin_after_leave": rejoinAfterLeave = try value.bool(at)
            case "disable_coordinates": disableCoordinates = try value.bool(at)
            case "enable_compression": enableCompression = try value.bool(at)
            case "broadcast_timeout": broadcastTimeout = try value.duration(at)
            case "actions": actions = value
            default:
                guard Self.ignoredKeys.contains(key) else { throw Error("\(source): unknown config key '\(key)'") }
            }
        }
    }

    /// Checks the merged configuration; the message names the setting and what is wrong with it.
    public func validate() throws {
        if let nodeName, nodeName.isEmpty { throw Error("node name must not be empty") }
        guard MemberlistSettings.profile(named: profile) != nil else {
            throw Error("unknown profile '\(profile)': use lan, wan or local")
        }
        guard (2...5).contains(protocolVersion) else {
            throw Error("protocol version \(protocolVersion) is unsupported: use 2 to 5")
        }
        guard Logger.Level(serfName: logLevel) != nil else {
            throw Error("unknown log level '\(logLevel)': use trace, debug, info, warn or err")
        }
        _ = try HostPort.parse(bind, defaultPort: 7946, what: "bind address")
        _ = try HostPort.parse(rpcAddr, defaultPort: 7373, what: "RPC address")
        if let advertise {
            let a = try HostPort.parse(advertise, defaultPort: 7946, what: "advertise address")
            if let ip = Address(host: a.host, port: 0), ip.isUnspecified {
                throw Error("cannot advertise \(advertise): peers need a reachable address, not an unspecified one")
            }
        }
        if tagsFile != nil && !tags.isEmpty { throw Error("tags config not allowed while using tag files") }
        if encryptKey != nil && keyringFile != nil { throw Error("encryption key not allowed while using a keyring") }
        if retryInterval < .seconds(1) { throw Error("retry interval must be at least 1s") }
        if broadcastTimeout < .seconds(1) { throw Error("broadcast timeout must be at least 1s") }
        if retryMax < 0 { throw Error("retry max attempts must not be negative") }
        let meta = SerfCodec.encodeTags(tags)
        if meta.count > 512 {
            throw Error("encoded length of tags exceeds limit of 512 bytes (\(meta.count) bytes)")
        }
    }

    public var memberlistSettings: MemberlistSettings {
        var s = MemberlistSettings.profile(named: profile) ?? .lan
        s.enableCompression = enableCompression
        return s
    }

    public var serfSettings: SerfSettings {
        var s = SerfSettings()
        s.broadcastTimeout = broadcastTimeout
        if let reconnectInterval { s.reconnectInterval = reconnectInterval }
        if let reconnectTimeout { s.reconnectTimeout = reconnectTimeout }
        if let tombstoneTimeout { s.tombstoneTimeout = tombstoneTimeout }
        s.userEventSizeLimit = userEventSizeLimit
        s.querySizeLimit = querySizeLimit
        s.queryResponseSizeLimit = queryResponseSizeLimit
        s.ignoreEventsOnJoin = !replayOnJoin
        s.disableCoordinates = disableCoordinates
        return s
    }
}

extension JSON {
    func string(_ at: String) throws -> String {
        guard case .string(let s) = self else { throw AgentConfiguration.Error("\(at): expected a string") }
        return s
    }

    func bool(_ at: String) throws -> Bool {
        guard case .bool(let b) = self else { throw AgentConfiguration.Error("\(at): expected true or false") }
        return b
    }

    func int(_ at: String) throws -> Int {
        guard case .number(let d) = self, d == d.rounded(), abs(d) < 1e12 else {
            throw AgentConfiguration.Error("\(at): expected an integer")
        }
        return Int(d)
    }

    func stringArray(_ at: String) throws -> [String] {
        guard case .array(let items) = self else { throw AgentConfiguration.Error("\(at): expected a list of strings") }
        return try items.map { try $0.string(at) }
    }

    func stringMap(_ at: String) throws -> [String: String] {
        guard case .object(let pairs) = self else { throw AgentConfiguration.Error("\(at): expected an object of strings") }
        var out: [String: String] = [:]
        for (k, v) in pairs { out[k] = try v.string("\(at).\(k)") }
        return out
    }

    func duration(_ at: String) throws -> Duration {
        let text = try string(at)
        do throws(GoDuration.ParseError) { return try GoDuration.parse(text) } catch {
            throw AgentConfiguration.Error("\(at): \(error)")
        }
    }
}
