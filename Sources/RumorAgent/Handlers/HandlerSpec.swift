#if canImport(Glibc)
import Glibc
#endif
import RumorSupport
import RumorCore

/// A problem with an `-event-handler` value; the message names the handler and what is wrong with it.
public struct HandlerSpecError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One item of a handler's filter (Serf's `EventFilter`).
public enum EventFilter: Hashable, Sendable, CustomStringConvertible {
    case all
    case member(MemberEventType)
    /// `user` (nil) or `user:NAME`.
    case user(name: String?)
    /// `query` (nil) or `query:NAME`.
    case query(name: String?)
    /// Rumor's container events: `container` (nil, all of them) or `container-start`, `container-exit`, ...
    /// Not matched by `*`: Serf's scripts switch on Serf's event types and must not meet new ones.
    case container(type: String?)

    static let containerTypes: Set<String> = [
        "container-start", "container-healthy", "container-unhealthy", "container-exit", "container-replaced",
    ]

    static let expected =
        "member-join, member-leave, member-failed, member-update, member-reap, user, user:NAME, query, query:NAME, "
        + "container, container-start, container-healthy, container-unhealthy, container-exit, container-replaced or *"

    /// Parses one comma-separated item; nil if it is not an event type.
    init?(item: String) {
        if item == "*" {
            self = .all
        } else if let type = MemberEventType(rawValue: item) {
            self = .member(type)
        } else if item == "container" {
            self = .container(type: nil)
        } else if Self.containerTypes.contains(item) {
            self = .container(type: item)
        } else if item == "user" {
            self = .user(name: nil)
        } else if item == "query" {
            self = .query(name: nil)
        } else if item.hasPrefix("user:") {
            // Serf accepts an empty name and treats it as every user event; so do we.
            let name = String(item.dropFirst(5))
            self = .user(name: name.isEmpty ? nil : name)
        } else if item.hasPrefix("query:") {
            let name = String(item.dropFirst(6))
            self = .query(name: name.isEmpty ? nil : name)
        } else {
            return nil
        }
    }

    public func matches(_ event: HandlerEvent) -> Bool {
        switch (self, event) {
        case (.all, .action): false
        case (.container(let type), .action(let actual, _)): type == nil || type == actual
        case (.all, _): true
        case (.member(let type), .member(let actual, _)): type == actual
        case (.user(let name), .user(let e)): name == nil || name == e.name
        case (.query(let name), .query(let q)): name == nil || name == q.name
        default: false
        }
    }

    /// Serf's key in `serf info`'s event_handlers section: `event:name` (`member-join:`, `user:deploy`, `*:`).
    public var statsKey: String {
        switch self {
        case .all: "*:"
        case .member(let type): "\(type.rawValue):"
        case .user(let name): "user:\(name ?? "")"
        case .query(let name): "query:\(name ?? "")"
        case .container(let type): "\(type ?? "container"):"
        }
    }

    public var description: String {
        switch self {
        case .all: "*"
        case .member(let type): type.rawValue
        case .user(let name): name.map { "user:\($0)" } ?? "user"
        case .query(let name): name.map { "query:\($0)" } ?? "query"
        case .container(let type): type ?? "container"
        }
    }
}

/// A parsed `-event-handler` value: Serf's `[FILTER=]SCRIPT`.
public struct HandlerSpec: Hashable, Sendable, CustomStringConvertible {
    public var filters: [EventFilter]
    /// Run as `/bin/sh -c SCRIPT`: a path or any shell command line.
    public var script: String
    /// The value as configured; also what keeps one handler's events in order across a reload.
    public var text: String

    public init(filters: [EventFilter], script: String) {
        self.filters = filters
        self.script = script
        self.text = filters == [.all] ? script : filters.map(\.description).joined(separator: ",") + "=" + script
    }

    /// Splits at the first `=`; no filter (or an empty one) means `*`.
    public static func parse(_ spec: String) throws -> HandlerSpec {
        func fail(_ problem: String) -> HandlerSpecError {
            HandlerSpecError("invalid event handler '\(spec)': \(problem)")
        }
        var filterText = ""
        var script = spec
        if let eq = spec.firstIndex(of: "=") {
            filterText = String(spec[..<eq])
            script = String(spec[spec.index(after: eq)...])
        }
        guard script.contains(where: { !$0.isWhitespace }) else { throw fail("empty script") }
        var filters: [EventFilter] = []
        if filterText.isEmpty {
            filters = [.all]
        } else {
            for raw in filterText.split(separator: ",", omittingEmptySubsequences: false) {
                let item = raw.trimmingWhitespace()
                guard !item.isEmpty else { throw fail("empty event type in '\(filterText)'") }
                guard let filter = EventFilter(item: item) else {
                    var problem = "unknown event type '\(item)' (expected \(EventFilter.expected))"
                    if item.contains(where: { $0.isWhitespace || $0 == "/" }) || item.allSatisfy(isEnvNameChar) {
                        // `FOO=bar script.sh` or `/bin/x --opt=1`: the first `=` was taken as the filter separator.
                        problem += "; a script containing '=' needs an explicit filter, e.g. '*=\(spec)'"
                    }
                    throw fail(problem)
                }
                if !filters.contains(filter) { filters.append(filter) }
            }
        }
        var parsed = HandlerSpec(filters: filters, script: script)
        parsed.text = spec
        return parsed
    }

    /// Parses every configured value (the `-event-handler` flags plus `event_handlers` entries), optionally checking
    /// the scripts too (startup and SIGHUP).
    public static func parseAll(_ specs: [String], validateScripts: Bool = true) throws -> [HandlerSpec] {
        try specs.map { text in
            let spec = try parse(text)
            if validateScripts { try spec.validateScript() }
            return spec
        }
    }

    public func matches(_ event: HandlerEvent) -> Bool { filters.contains { $0.matches(event) } }

    /// Checks a script whose first word is a plain path (contains `/`): it must exist and be executable. Anything
    /// else (`echo hi >> f`, `$HOME/x.sh`, `FOO=1 ./x`) is a shell command line that only the shell can judge.
    /// Serf checks nothing and fails on every event instead.
    public func validateScript() throws {
        guard let path = Self.plainPathWord(script) else { return }
        var info = stat()
        guard stat(path, &info) == 0 else {
            let err = errno
            if err == ENOENT || err == ENOTDIR {
                throw HandlerSpecError("event handler script \(path) does not exist")
            }
            throw HandlerSpecError("event handler script \(path) cannot be checked: \(errnoDescription(err))")
        }
        if info.st_mode & S_IFMT == S_IFDIR {
            throw HandlerSpecError("event handler script \(path) is a directory")
        }
        guard access(path, X_OK) == 0 else {
            throw HandlerSpecError("event handler script \(path) is not executable")
        }
    }

    /// The first word if it is a literal path: contains `/` and nothing the shell would expand or interpret.
    static func plainPathWord(_ script: String) -> String? {
        let trimmed = script.trimmingWhitespace()
        let word = String(trimmed.prefix { !$0.isWhitespace })
        guard word.contains("/") else { return nil }
        let special: Set<Character> = ["$", "`", "'", "\"", "\\", "~", "*", "?", "[", "]", "{", "}", "=", ";", "|",
                                       "&", "<", ">", "(", ")", "#", "!"]
        return word.contains(where: { special.contains($0) }) ? nil : word
    }

    /// Serf's `serf info` event_handlers entries: one `event:name` key per filter item.
    public var statsEntries: [(key: String, script: String)] { filters.map { ($0.statsKey, script) } }

    public var description: String { text }
}

private func isEnvNameChar(_ c: Character) -> Bool {
    c == "_" || (c.isASCII && (c.isUppercase || c.isNumber))
}

fileprivate extension StringProtocol {
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }),
              let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
