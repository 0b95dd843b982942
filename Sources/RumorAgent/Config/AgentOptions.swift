import Logging
import RumorApps
import RumorCrypto
import RumorSupport

extension AgentOption {
    /// Every setting of `rumor agent`, in the order help and README list them. Flags follow `serf agent`'s names;
    /// keys are Serf's config keys (Rumor's own additions say so).
    public static let all: [AgentOption] = [
        text(["node"], key: "node_name", value: "name", maxBytes: 128, "Node name (default: the host name).") {
            $0.nodeName = $1
        },
        address(
            ["bind"], key: "bind", value: "ip[:port]", defaultPort: 7946, default: "0.0.0.0:7946",
            "Address for gossip, UDP and TCP."
        ) { $0.bind = $1 },
        address(
            ["advertise"], key: "advertise", value: "ip[:port]", defaultPort: 7946,
            "Address peers use, never 0.0.0.0 (default: the bind IP, or the first private IPv4 of an interface that is up)."
        ) { $0.advertise = $1 },
        list(
            ["join"], key: "start_join", value: "address",
            "Join at start (host name, host:port or IP); the agent exits if none answers."
        ) { $0.join += $1 },
        list(["retry-join"], key: "retry_join", value: "address", "Join, retried every retry-interval until it works.") {
            $0.retryJoin += $1
        },
        duration(
            ["retry-interval"], key: "retry_interval", .seconds(1) ... .seconds(365 * 86400), default: "30s",
            "Time between retry-join attempts."
        ) { $0.retryInterval = $1 },
        integer(
            ["retry-max"], key: "retry_max_attempts", 0 ... 1_000_000_000, default: 0,
            "Retry-join attempts before giving up (0: forever)."
        ) { $0.retryMax = $1 },
        bool(["replay"], key: "replay_on_join", default: false, "Replay past user events on join.") {
            $0.replayOnJoin = $1
        },
        tags,
        text(["tags-file"], key: "tags_file", value: "path", "JSON object of tags, rewritten by `rumor tags`.") {
            $0.tagsFile = $1
        },
        text(["apps-dir"], key: "apps_dir", value: "path", "Run the app specs in this directory (one <app>.json each) as Docker containers.") {
            $0.appsDir = $1
        },
        list(
            ["apps-trust"], key: "apps_trust", value: "public-key",
            "Deploy keys whose signed app specs this node takes (rumor apps keygen; `any`: unsigned too, for a lab). None: it takes no spec from the cluster.",
            check: { text throws(Failure) in
                guard text != "any" else { return }
                do throws(CryptoError) { _ = try AppPublicKey(base64: text) } catch { throw Failure(error.message) }
            }
        ) { $0.appsTrust += $1 },
        appsAllow,
        text(["role"], key: "role", value: "value", maxBytes: 512, "Deprecated Serf setting: the tag role=VALUE.") {
            $0.tags["role"] = $1
        },
        choice(["profile"], key: "profile", ["lan", "wan", "local"], default: "lan", "Memberlist timing presets.") {
            $0.profile = $1
        },
        integer(["protocol"], key: "protocol", 2 ... 5, default: 5, "Serf protocol version to speak.") {
            $0.protocolVersion = $1
        },
        address(
            ["rpc-addr"], key: "rpc_addr", value: "ip:port", defaultPort: 7373, default: "127.0.0.1:7373",
            "Address of the RPC listener."
        ) { $0.rpcAddr = $1 },
        httpAddr,
        text(["rpc-auth"], key: "rpc_auth", value: "token", secret: true, "Token RPC clients must present.") { $0.rpcAuth = $1 },
        text(
            ["log-level"], key: "log_level", value: "level", default: "info", maxBytes: 16,
            "trace, debug, info, warn or err.",
            check: { text throws(Failure) in
                guard Logger.Level(serfName: text) != nil else {
                    throw Failure("\(JSON.excerpt(text)) is not one of trace, debug, info, warn, err")
                }
            }
        ) { $0.logLevel = $1 },
        list(
            ["event-handler"], key: "event_handlers", value: "[filter=]script",
            "Handler script, Serf's contract (SERF_* environment, member lines or payload on stdin)."
        ) { $0.eventHandlers += $1 },
        text(["snapshot"], key: "snapshot_path", value: "path", "Snapshot file for rejoining after a restart.") {
            $0.snapshotPath = $1
        },
        bool(["rejoin"], key: "rejoin_after_leave", default: false, "Rejoin from the snapshot even after a leave.") {
            $0.rejoinAfterLeave = $1
        },
        text(
            ["encrypt"], key: "encrypt_key", value: "key", secret: true, maxBytes: 64, "Base64 gossip encryption key (32 bytes).",
            check: { text throws(Failure) in
                do throws(CryptoError) { _ = try SecretKey(base64: text) } catch {
                    throw Failure(error.message)  // not the value: it may be a near miss of the real key
                }
            }
        ) { $0.encryptKey = $1 },
        text(["keyring-file"], key: "keyring_file", value: "path", "JSON keyring file, rewritten on key changes.") {
            $0.keyringFile = $1
        },
        bool(
            ["encrypt-allow-plaintext"], key: "encrypt_verify_incoming", default: true, inverted: true,
            "Also accept plaintext gossip while encrypting, to migrate a cluster (the key set to false)."
        ) { $0.encryptAllowPlaintext = !$1 },
        bool(
            ["disable-compression"], key: "enable_compression", default: true, inverted: true,
            "Compress TCP state exchanges (the flag turns it off)."
        ) { $0.enableCompression = $1 },
        duration(
            ["broadcast-timeout"], key: "broadcast_timeout", .seconds(1) ... .seconds(3600), default: "5s",
            "How long a leave waits for its broadcast."
        ) { $0.broadcastTimeout = $1 },
        bool(
            [], key: "disable_coordinates", default: false,
            "No Vivaldi coordinates in acks (serf rtt then has none; idle UDP bytes halve)."
        ) { $0.disableCoordinates = $1 },
        bool(
            [], key: "leave_on_terminate", default: true,
            "Leave gracefully on SIGTERM (Rumor's default; Serf's is false)."
        ) { $0.leaveOnTerminate = $1 },
        bool([], key: "skip_leave_on_interrupt", default: false, "Stop without leaving on SIGINT.") {
            $0.skipLeaveOnInterrupt = $1
        },
        bool(
            [], key: "coalesce_leading_edge", default: true,
            "Member-event handlers run at once after a quiet second, then coalesce what follows (false: Serf's wait)."
        ) { $0.coalesceLeadingEdge = $1 },
        bool(
            [], key: "eager_gossip", default: true,
            "Gossip news (events, queries, joins, leaves, failures) when it arrives, not at the next tick (false: memberlist's wait)."
        ) { $0.eagerGossip = $1 },
        duration(
            [], key: "reconnect_interval", .seconds(1) ... .seconds(86400), default: "30s",
            "serf's interval for trying to reconnect failed members; Rumor pings one every 5 s (or this, if shorter) and push-pulls when it answers (docs/membership.md, \"Reap and reconnect\")."
        ) { $0.reconnectInterval = $1 },
        duration(
            [], key: "reconnect_timeout", .seconds(1) ... .seconds(365 * 86400), default: "24h",
            "How long failed members are retried before they are reaped."
        ) { $0.reconnectTimeout = $1 },
        duration(
            [], key: "tombstone_timeout", .seconds(1) ... .seconds(365 * 86400), default: "24h",
            "How long left members are remembered."
        ) { $0.tombstoneTimeout = $1 },
        integer(
            [], key: "user_event_size_limit", value: "bytes", 1 ... 9216, default: 512,
            "Largest user event payload and name."
        ) { $0.userEventSizeLimit = $1 },
        integer([], key: "query_size_limit", value: "bytes", 1 ... 65536, default: 1024, "Largest query.") {
            $0.querySizeLimit = $1
        },
        integer(
            [], key: "query_response_size_limit", value: "bytes", 1 ... 65536, default: 1024, "Largest query response."
        ) { $0.queryResponseSizeLimit = $1 },
        actions,
        // Read by the command before every other flag (files first, flags override them).
        list(["config-file"], key: nil, value: "path", "JSON config file (Serf's keys).") { _, _ in },
        list(["config-dir"], key: nil, value: "path", "Directory whose *.json files are read in lexical order.") {
            _, _ in
        },
    ]

    /// `--tag k=v` (repeatable) and `"tags": {"k": "v"}`.
    static let tags = AgentOption(
        flags: ["tag"], key: "tags", valueName: "key=value", repeatable: true, defaultText: "",
        help: "Member tags (encoded at most 512 bytes, as Serf).",
        fromFlag: { c, text throws(Failure) in
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
                throw Failure("\(JSON.excerpt(text)) is not key=value")
            }
            c.tags[String(text[..<eq])] = String(text[text.index(after: eq)...])
        },
        fromJSON: { c, json throws(Failure) in
            guard case .object(let pairs) = json else { throw wrongType(json, expected: "an object of strings") }
            for (k, v) in pairs {
                guard case .string(let s) = v else {
                    throw Failure("tag \(JSON.excerpt(k)): \(wrongType(v, expected: "a string"))")
                }
                c.tags[k] = s
            }
        })

    /// `--http-addr IP:PORT` / `"http_addr"`: the read-only HTTP listener (metrics, `/v1`, the cluster page); an
    /// empty value turns it off.
    static let httpAddr = AgentOption(
        flags: ["http-addr"], key: "http_addr", valueName: "ip:port", repeatable: false, defaultText: "",
        help: "Read-only HTTP listener: /metrics (Prometheus), /v1/... (JSON), the live cluster page at /. Default: \(AgentConfiguration.defaultHTTPAddr) if free; empty: off.",
        fromFlag: { c, text throws(Failure) in c.httpAddr = try httpAddress(text) },
        fromJSON: { c, json throws(Failure) in c.httpAddr = try httpAddress(try string(json)) })

    static func httpAddress(_ text: String) throws(Failure) -> String {
        guard !text.isEmpty else { return "" }
        guard text.utf8.count <= 300 else { throw Failure("\(JSON.excerpt(text)) is longer than 300 bytes") }
        do throws(HostPort.ParseError) { _ = try HostPort.parse(text, defaultPort: 7374, what: "address") } catch {
            throw Failure("\(JSON.excerpt(text)) is not an address: \(error.reason) (expected ip:port, [ipv6]:port, or empty for off)")
        }
        return text
    }

    /// `--apps-allow privileged|host_network|devices=PREFIX|volumes=PREFIX|images=REGEX` (repeatable) and
    /// `"apps_allow": {"privileged": true, "volumes": ["/srv"], ...}`: what specs from the cluster may ask of this host.
    static let appsAllow = AgentOption(
        flags: ["apps-allow"], key: "apps_allow", valueName: "rule[=value]", repeatable: true, defaultText: "",
        help: "What specs from the cluster may ask of this host: privileged, host_network, devices=/dev/PATH, volumes=/HOST/PREFIX, images=REGEX (default: none of them, any image).",
        fromFlag: { c, text throws(Failure) in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            switch (parts.first ?? "", parts.count) {
            case ("privileged", 1): c.appsAllow.privileged = true
            case ("host_network", 1): c.appsAllow.hostNetwork = true
            case ("devices", 2): c.appsAllow.devices.append(parts[1])
            case ("volumes", 2): c.appsAllow.volumes.append(parts[1])
            case ("images", 2): c.appsAllow.images.append(parts[1])
            default:
                throw Failure("\(JSON.excerpt(text)) is not privileged, host_network, devices=PREFIX, volumes=PREFIX or images=REGEX")
            }
            try checkPolicy(c.appsAllow)
        },
        fromJSON: { c, json throws(Failure) in
            guard case .object(let pairs) = json else { throw wrongType(json, expected: "an object such as {\"volumes\": [\"/srv\"]}") }
            var policy = AppPolicy()
            for (key, value) in pairs {
                switch key {
                case "privileged", "host_network":
                    guard case .bool(let b) = value else { throw Failure("\(key): \(wrongType(value, expected: "true or false"))") }
                    if key == "privileged" { policy.privileged = b } else { policy.hostNetwork = b }
                case "devices", "volumes", "images":
                    guard case .array(let items) = value else { throw Failure("\(key): \(wrongType(value, expected: "an array of strings"))") }
                    var list: [String] = []
                    for item in items {
                        guard case .string(let s) = item else { throw Failure("\(key): \(wrongType(item, expected: "a string"))") }
                        list.append(s)
                    }
                    switch key {
                    case "devices": policy.devices = list
                    case "volumes": policy.volumes = list
                    default: policy.images = list
                    }
                default:
                    throw Failure("unknown key \(JSON.excerpt(key)) (privileged, host_network, devices, volumes, images)")
                }
            }
            try checkPolicy(policy)
            c.appsAllow = policy
        })

    private static func checkPolicy(_ policy: AppPolicy) throws(Failure) {
        do throws(AppPolicyError) { try policy.validate() } catch { throw Failure(error.description) }
    }

    /// Rumor's built-in actions (`{"haproxy": {...}}`), kept raw for the actions to parse.
    static let actions = AgentOption(
        flags: [], key: "actions", valueName: "object", repeatable: false, defaultText: "",
        help: "Rumor's built-in actions, e.g. {\"haproxy\": {...}} (templates/README.md).",
        fromFlag: { _, _ throws(Failure) in },
        fromJSON: { c, json throws(Failure) in
            guard case .object = json else { throw wrongType(json, expected: "an object such as {\"haproxy\": {...}}") }
            c.actions = json
        })

    /// Options by config key and by flag name.
    public static let byKey: [String: AgentOption] = Dictionary(
        all.compactMap { o in o.key.map { ($0, o) } }, uniquingKeysWith: { a, _ in a })
    public static let byFlag: [String: AgentOption] = Dictionary(
        all.flatMap { o in o.flags.map { ($0, o) } }, uniquingKeysWith: { a, _ in a })
}
