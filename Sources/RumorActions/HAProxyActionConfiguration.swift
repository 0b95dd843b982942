import RumorSupport
/// How a new HAProxy configuration reaches the running HAProxy.
public enum HAProxyApplyMode: String, Sendable, Hashable, CaseIterable {
    /// Rumor starts and supervises HAProxy (master-worker). Membership changes go through the runtime API
    /// (server slots: address, port, ready/drain/maint) with no reload; a hitless reload happens only when the
    /// slots run out or the rest of the configuration changes. The default: it measured zero failed requests.
    case runtime
    /// Rumor starts and supervises HAProxy and reloads it through the master CLI after every change.
    case reload
    /// An HAProxy that Rumor did not start (master-worker mode): SIGUSR2 to the pid in `pid_file` reloads it.
    case signal
    /// Only write the file (like docker-gen); something else reloads HAProxy.
    case none

    /// Whether Rumor owns the HAProxy process in this mode.
    var startsHAProxy: Bool { self == .runtime || self == .reload }
}

/// A configuration key that is wrong, and why. `key` is the full path, e.g. `actions.haproxy.debounce.quiet`.
public struct HAProxyActionConfigurationError: Error, CustomStringConvertible, Equatable {
    public var key: String
    public var message: String

    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }

    public var description: String { "\(key): \(message)" }
}

/// Settings of the built-in HAProxy action, from `"actions": {"haproxy": {...}}` or the `--haproxy-*` flags.
public struct HAProxyActionConfiguration: Sendable, Hashable {
    /// Where the keys live in the agent's JSON, for error messages.
    public static let keyPrefix = "actions.haproxy"
    /// The template used when `template` is not given (a path; the built-in copy is used when it does not exist).
    public static let defaultTemplatePath = "templates/haproxy.cfg.mustache"

    /// Tag → regular expression; a member is selected when every one matches its tag's whole value.
    public var selector: [String: String] = ["role": "backend"]
    /// Mustache template path, or `builtin:http` / `builtin:sticky` / `builtin:tcp`.
    public var template: String = HAProxyActionConfiguration.defaultTemplatePath
    /// The configuration file HAProxy reads.
    public var output: String = "/etc/haproxy/haproxy.cfg"
    /// Balance the containers of this app (the container action's `app:<name>` tags: one server per endpoint)
    /// instead of one server per member.
    public var app: String?
    /// The tag holding a backend's service port, and the port used when a member lacks it.
    public var portTag: String = "port"
    public var defaultPort: Int = 80
    /// Validates a rendered file before it may replace `output`; `{file}` is the candidate's path.
    public var checkCommand: String = "haproxy -c -f {file}"
    public var apply: HAProxyApplyMode = .runtime
    public var haproxyBinary: String = "haproxy"
    /// Master CLI socket (`haproxy -S`), used for reloads in `runtime` and `reload` modes.
    public var masterSocket: String = "/run/haproxy/master.sock"
    /// Stats socket with `level admin` (rendered into the config), used for runtime server changes.
    public var statsSocket: String = "/run/haproxy/admin.sock"
    /// `signal` mode: the pidfile of the HAProxy master to send SIGUSR2.
    public var pidFile: String?
    /// A change is applied once membership has been quiet this long, and never later than `debounceMax` after
    /// the first change of a burst: a burst of joins costs one render and at most one reload.
    public var debounceQuiet: Duration = .milliseconds(100)
    public var debounceMax: Duration = .milliseconds(500)
    /// How long a leaving member's server stays in `drain` before its slot is freed even if it never leaves.
    public var drainTimeout: Duration = .seconds(30)
    /// Where the rendered frontend and stats page listen (template variables `frontend_bind`, `stats_bind`).
    public var frontendBind: String = "*:80"
    public var statsBind: String = "*:1936"
    /// The HAProxy backend holding the member servers, and the fewest server slots to render.
    public var backendName: String = "backends"
    public var slots: Int = 16
    /// Path of the HTTP health check (`option httpchk GET <path>`).
    public var checkPath: String = "/"
    /// Free-form template variables (`{{vars.name}}`).
    public var vars: [String: String] = [:]

    /// All defaults: members tagged role=backend, rendered with the default template to `output`.
    public init() {}

    /// The common case behind `--haproxy-config PATH --haproxy-template PATH --haproxy-selector role=backend`.
    /// `selectors` are `tag=regex` flag values; none keeps the default `role=backend`.
    public init(output: String, template: String? = nil, selectors: [String] = []) throws {
        self.output = output
        if let template { self.template = template }
        if !selectors.isEmpty { selector = try Self.selector(fromFlags: selectors) }
        try validate()
    }

    /// `--haproxy-selector TAG=REGEX` values (repeatable) as a selector, for flags that override a config file.
    public static func selector(fromFlags flags: [String]) throws -> [String: String] {
        var selector: [String: String] = [:]
        for flag in flags {
            guard let eq = flag.firstIndex(of: "="), eq != flag.startIndex else {
                throw HAProxyActionConfigurationError(
                    key: "--haproxy-selector", message: "expected TAG=REGEX, got \"\(flag)\"")
            }
            selector[String(flag[..<eq])] = String(flag[flag.index(after: eq)...])
        }
        return selector
    }

    /// Parses the value of `"actions": {"haproxy": ...}`. Unknown keys are errors (a typo must not silently fall
    /// back to a default that points HAProxy somewhere else).
    public init(json: JSON) throws {
        let prefix = Self.keyPrefix
        guard case .object(let fields) = json else {
            throw HAProxyActionConfigurationError(key: prefix, message: "expected an object, got \(json.typeName)")
        }
        var reader = FieldReader(prefix: prefix, fields: fields)
        if let v = try reader.string("app") {
            app = v
            selector = [:]  // any member advertising the app, unless a selector narrows it
        }
        if let selector = try reader.stringMap("selector") { self.selector = selector }
        if let v = try reader.string("template") { template = v }
        if let v = try reader.string("output") { output = v }
        if let v = try reader.string("port_tag") { portTag = v }
        if let v = try reader.integer("default_port") { defaultPort = v }
        if let v = try reader.string("check_command") { checkCommand = v }
        if let v = try reader.string("apply") {
            guard let mode = HAProxyApplyMode(rawValue: v) else {
                let modes = HAProxyApplyMode.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
                throw HAProxyActionConfigurationError(key: "\(prefix).apply", message: "expected one of \(modes)")
            }
            apply = mode
        }
        if let v = try reader.string("haproxy_binary") { haproxyBinary = v }
        if let v = try reader.string("master_socket") { masterSocket = v }
        if let v = try reader.string("stats_socket") { statsSocket = v }
        if let v = try reader.string("pid_file") { pidFile = v }
        if let debounce = try reader.object("debounce") {
            var inner = FieldReader(prefix: "\(prefix).debounce", fields: debounce)
            if let v = try inner.duration("quiet") { debounceQuiet = v }
            if let v = try inner.duration("max") { debounceMax = v }
            try inner.rejectUnknown()
        }
        if let v = try reader.duration("drain_timeout") { drainTimeout = v }
        if let v = try reader.string("frontend_bind") { frontendBind = v }
        if let v = try reader.string("stats_bind") { statsBind = v }
        if let v = try reader.string("backend_name") { backendName = v }
        if let v = try reader.integer("slots") { slots = v }
        if let v = try reader.string("check_path") { checkPath = v }
        if let v = try reader.stringMap("vars") { vars = v }
        try reader.rejectUnknown()
        try validate()
    }

    /// Checks values that parse but cannot work; the error names the offending key.
    public func validate() throws {
        func fail(_ key: String, _ message: String) -> HAProxyActionConfigurationError {
            HAProxyActionConfigurationError(key: "\(Self.keyPrefix).\(key)", message: message)
        }
        for (tag, pattern) in selector {
            guard !tag.isEmpty else { throw fail("selector", "tag names must not be empty") }
            do {
                _ = try Regex(pattern)
            } catch {
                throw fail("selector.\(tag)", "invalid regular expression \"\(pattern)\": \(error)")
            }
        }
        if template.isEmpty { throw fail("template", "must not be empty") }
        if template.hasPrefix("builtin:"), BuiltinTemplates.named(template) == nil {
            let names = BuiltinTemplates.names.map { "builtin:\($0)" }.joined(separator: ", ")
            throw fail("template", "unknown built-in template \"\(template)\" (have \(names))")
        }
        if output.isEmpty { throw fail("output", "must not be empty") }
        if portTag.isEmpty { throw fail("port_tag", "must not be empty") }
        if !(1...65535).contains(defaultPort) { throw fail("default_port", "must be 1-65535, got \(defaultPort)") }
        if !checkCommand.isEmpty {
            guard let argv = CommandLineSplitter.split(checkCommand), !argv.isEmpty else {
                throw fail("check_command", "unbalanced quotes in \"\(checkCommand)\"")
            }
            if !argv.contains(where: { $0.contains("{file}") }) {
                throw fail("check_command", "must contain {file}, the path of the file to check")
            }
        }
        if apply.startsHAProxy {
            if haproxyBinary.isEmpty { throw fail("haproxy_binary", "must not be empty") }
            try checkSocketPath(masterSocket, key: "master_socket")
        }
        if apply == .runtime { try checkSocketPath(statsSocket, key: "stats_socket") }
        if apply == .signal, (pidFile ?? "").isEmpty {
            throw fail("pid_file", "is required with \"apply\": \"signal\" (the pidfile of the HAProxy to reload)")
        }
        if debounceQuiet <= .zero { throw fail("debounce.quiet", "must be positive") }
        if debounceMax < debounceQuiet {
            throw fail("debounce.max", "must be at least debounce.quiet (\(GoDuration.format(debounceQuiet)))")
        }
        if drainTimeout < .zero { throw fail("drain_timeout", "must not be negative") }
        if frontendBind.isEmpty { throw fail("frontend_bind", "must not be empty") }
        if statsBind.isEmpty { throw fail("stats_bind", "must not be empty") }
        if !Self.isHAProxyName(backendName) {
            throw fail("backend_name", "\"\(backendName)\" is not a valid HAProxy proxy name ([A-Za-z0-9_.:-])")
        }
        if !(1...10000).contains(slots) { throw fail("slots", "must be 1-10000, got \(slots)") }
        if !checkPath.hasPrefix("/") || checkPath.contains(where: { $0.isWhitespace }) {
            throw fail("check_path", "must be a path starting with / and without spaces")
        }
    }

    private func checkSocketPath(_ path: String, key: String) throws {
        // sun_path holds 108 bytes including the terminating NUL.
        if path.isEmpty || path.utf8.count > 107 {
            throw HAProxyActionConfigurationError(
                key: "\(Self.keyPrefix).\(key)", message: "must be a unix socket path of 1-107 bytes")
        }
    }

    static func isHAProxyName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { s in
            (s >= "a" && s <= "z") || (s >= "A" && s <= "Z") || (s >= "0" && s <= "9")
                || "_.:-".unicodeScalars.contains(s)
        }
    }
}

/// Reads typed fields out of a JSON object and remembers which keys were used, so leftovers can be rejected.
private struct FieldReader {
    let prefix: String
    /// A duplicated key keeps its last value, as the JSON subscript reads it.
    let fields: [String: JSON]
    var used: Set<String> = []

    init(prefix: String, fields: [(String, JSON)]) {
        self.prefix = prefix
        self.fields = Dictionary(fields, uniquingKeysWith: { $1 })
    }

    private func error(_ key: String, _ message: String) -> HAProxyActionConfigurationError {
        HAProxyActionConfigurationError(key: "\(prefix).\(key)", message: message)
    }

    private mutating func value(_ key: String) -> JSON? {
        used.insert(key)
        guard let v = fields[key], v != .null else { return nil }
        return v
    }

    mutating func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw error(key, "expected a string, got \(v.typeName)") }
        return s
    }

    mutating func integer(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        switch v {
        case .number(let d) where d.rounded() == d && abs(d) < 1e15: return Int(d)
        case .string(let s) where Int(s) != nil: return Int(s)
        default: throw error(key, "expected an integer, got \(v.typeName)")
        }
    }

    /// A Go-style duration string ("250ms") or a number of seconds.
    mutating func duration(_ key: String) throws -> Duration? {
        guard let v = value(key) else { return nil }
        switch v {
        case .number(let d) where d >= 0 && d < 9e9: return .nanoseconds(Int64(d * 1e9))
        case .number(let d): throw error(key, "expected a number of seconds from 0 to 9e9, got \(d)")
        case .string(let s):
            do throws(GoDuration.ParseError) { return try GoDuration.parse(s) } catch {
                throw self.error(key, error.description)
            }
        default: throw error(key, "expected a duration string, got \(v.typeName)")
        }
    }

    mutating func object(_ key: String) throws -> [(String, JSON)]? {
        guard let v = value(key) else { return nil }
        guard case .object(let o) = v else { throw error(key, "expected an object, got \(v.typeName)") }
        return o
    }

    mutating func stringMap(_ key: String) throws -> [String: String]? {
        guard let o = try object(key) else { return nil }
        var out: [String: String] = [:]
        for (k, v) in o {
            switch v {
            case .string(let s): out[k] = s
            case .number(let d) where d.rounded() == d && abs(d) < 1e15: out[k] = String(Int(d))
            case .bool(let b): out[k] = String(b)
            default: throw error("\(key).\(k)", "expected a string, got \(v.typeName)")
            }
        }
        return out
    }

    func rejectUnknown() throws {
        if let unknown = fields.keys.sorted().first(where: { !used.contains($0) }) {
            throw error(unknown, "unknown key")
        }
    }
}
