import RumorSupport
import Logging
import RumorApps
import RumorCore
import RumorWire

/// Everything the agent is told at start-up, under Serf's names so a Serf user's config carries over.
///
/// Built in three layers: defaults, then config files and directories (in order), then command-line flags; later
/// layers override earlier ones, and list-valued keys (`start_join`, `retry_join`, `event_handlers`) add up, as in
/// Serf. Each setting is declared once in ``AgentOption/all`` (flag, key, parser, default, help); the defaults
/// below must match those declarations (a test checks). ``validate()`` checks what no single setting can.
public struct AgentConfiguration: Sendable, Equatable {
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
    /// The container action's app specs (one `<app>.json` each); nil: the action is off.
    public var appsDir: String?
    /// Deploy public keys (base64) whose signed specs this node takes; `any` also takes unsigned ones.
    public var appsTrust: [String] = []
    /// What specs from the cluster may ask of this host (the container action checks every one).
    public var appsAllow = AppPolicy()
    public var profile = "lan"
    public var protocolVersion = 5
    public var rpcAddr = "127.0.0.1:7373"
    public var rpcAuth: String?
    /// The HTTP listener (`http_addr`): nil is the default address, taken only if free (many agents share a
    /// machine in labs and tests); an address given is required to bind; empty is off.
    public var httpAddr: String?
    public static let defaultHTTPAddr = "127.0.0.1:7374"
    public var logLevel = "info"
    public var eventHandlers: [String] = []
    public var snapshotPath: String?
    public var rejoinAfterLeave = false
    /// Serf's `disable_coordinates`: no Vivaldi coordinate in acks, `serf rtt` has nothing to report.
    public var disableCoordinates = false
    /// Serf leaves gracefully on SIGINT only; Rumor also does on SIGTERM (what `docker stop` sends), so scaling
    /// a service down reads as *left* everywhere rather than *failed*. Set false for Serf's behaviour.
    public var leaveOnTerminate = true
    /// Member-event handlers fire on the leading edge of a burst (docs/agent.md#coalescing).
    public var coalesceLeadingEdge = true
    /// News is gossiped when it is created or first heard, not at the next tick (`MemberlistSettings.eagerGossip`).
    public var eagerGossip = true
    public var skipLeaveOnInterrupt = false
    public var encryptKey: String?
    public var keyringFile: String?
    /// Accept plaintext gossip while encryption is on, for migrating a running cluster to encryption (Consul's
    /// `encrypt_verify_incoming: false`). Outgoing traffic is still encrypted.
    public var encryptAllowPlaintext = false
    public var enableCompression = true
    public var broadcastTimeout: Duration = .seconds(5)
    public var reconnectInterval: Duration = .seconds(30)
    public var reconnectTimeout: Duration = .seconds(24 * 3600)
    public var tombstoneTimeout: Duration = .seconds(24 * 3600)
    public var userEventSizeLimit = 512
    public var querySizeLimit = 1024
    public var queryResponseSizeLimit = 1024
    /// Rumor's own additions (built-in actions) live under their own key; kept raw for the actions to parse.
    public var actions: JSON?
    /// The built-in actions' own flags (`--haproxy-config`, declared by each action: ``AgentOption/actionFlag``),
    /// name → values, kept for the actions; the agent never reads them.
    public var actionFlags: [String: [String]] = [:]

    public init() {}

    /// Serf's config keys that Rumor accepts but ignores, so Serf configs load unchanged.
    static let ignoredKeys: Set<String> = [
        "discover", "interface", "enable_syslog", "syslog_facility", "statsite_addr",
        "statsd_addr", "disable_name_resolution", "mdns",
    ]

    /// Applies one config file's JSON on top of this configuration; `source` names the file in errors.
    public mutating func merge(json: JSON, source: String) throws(ConfigurationError) {
        guard case .object(let pairs) = json else {
            throw ConfigurationError("config file \(source): expected a JSON object at the top level, got \(json.typeName)")
        }
        for (key, value) in pairs {
            guard let option = AgentOption.byKey[key] else {
                guard Self.ignoredKeys.contains(key) else {
                    throw ConfigurationError("config file \(source): unknown key \(JSON.excerpt(key))")
                }
                continue
            }
            do throws(AgentOption.OptionValueError) { try option.fromJSON(&self, value) } catch {
                throw ConfigurationError("config file \(source): \(key): \(error)")
            }
        }
    }

    /// Applies one command-line value of `option` (given as `--flag`).
    public mutating func apply(_ option: AgentOption, flagValue: String) throws(ConfigurationError) {
        do throws(AgentOption.OptionValueError) { try option.fromFlag(&self, flagValue) } catch {
            throw ConfigurationError("--\(option.flag ?? "?"): \(error)")
        }
    }

    /// Checks what no single setting can: combinations, and limits of the merged result.
    public func validate() throws(ConfigurationError) {
        if let advertise, let a = try? HostPort.parse(advertise, defaultPort: 7946, what: "advertise address"),
            let ip = Address(host: a.host, port: 0), ip.isUnspecified
        {
            throw ConfigurationError(
                "advertise: \(JSON.excerpt(advertise)) is unspecified: peers need a reachable address")
        }
        if tagsFile != nil && !tags.isEmpty {
            throw ConfigurationError("tags and tags_file: tags config not allowed while using tag files")
        }
        if encryptKey != nil && keyringFile != nil {
            throw ConfigurationError("encrypt_key and keyring_file: encryption key not allowed while using a keyring")
        }
        let meta = SerfCodec.encodeTags(tags)
        if meta.count > 512 {
            throw ConfigurationError("tags: encoded length of tags exceeds limit of 512 bytes (\(meta.count) bytes)")
        }
    }

    public var memberlistSettings: MemberlistSettings {
        var s = MemberlistSettings.profile(named: profile) ?? .lan
        s.enableCompression = enableCompression
        s.eagerGossip = eagerGossip
        return s
    }

    public var serfSettings: SerfSettings {
        var s = SerfSettings()
        s.broadcastTimeout = broadcastTimeout
        s.reconnectInterval = reconnectInterval
        s.reconnectTimeout = reconnectTimeout
        s.tombstoneTimeout = tombstoneTimeout
        s.userEventSizeLimit = userEventSizeLimit
        s.querySizeLimit = querySizeLimit
        s.queryResponseSizeLimit = queryResponseSizeLimit
        s.ignoreEventsOnJoin = !replayOnJoin
        s.disableCoordinates = disableCoordinates
        return s
    }
}

extension JSON {
    /// An object of strings (a tags file); the error names `at`.
    func stringMap(_ at: String) throws(ConfigurationError) -> [String: String] {
        guard case .object(let pairs) = self else { throw ConfigurationError("\(at): expected an object of strings, got \(typeName)") }
        var out: [String: String] = [:]
        for (k, v) in pairs {
            guard case .string(let s) = v else { throw ConfigurationError("\(at): \(k): expected a string, got \(v.typeName)") }
            out[k] = s
        }
        return out
    }
}
